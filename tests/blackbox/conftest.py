"""Fixtures of the black-box tests (the machinery is in harness.py).

    instance        a fresh, not started Instance (cleaned up afterwards)
    server          an Instance already serving
    make_instance   factory: make_instance(config=..., extra_lines=...,
                    listeners=..., start=True) -> Instance; any number
                    per test, all stopped and removed afterwards
    tls_files       (cert, key) of the run's self-signed pair

A daemon still running at the end of a test is stopped with SIGTERM and
must exit 0 without a sanitizer report, or the test errors in teardown.
"""
import os

import pytest

import harness


def pytest_sessionstart(session):
    if not os.access(harness.BIN, os.X_OK):
        pytest.exit(f"popgate binary not found: {harness.BIN} (build it "
                    f"with `make asan`, or set POPGATE_BIN)", returncode=2)


@pytest.fixture(scope="session")
def tls_files():
    yield harness.tls_pair()
    harness.tls_cleanup()


@pytest.fixture
def make_instance(tls_files):
    made = []

    def make(config=None, extra_lines=None, listeners=None, start=True):
        inst = harness.Instance(config=config, extra_lines=extra_lines,
                                listeners=listeners, tls=tls_files)
        made.append(inst)
        if start:
            inst.start()
        return inst

    yield make
    try:
        for inst in made:
            if inst.running:
                inst.stop()
    finally:
        for inst in made:
            inst.cleanup()


@pytest.fixture
def instance(make_instance):
    return make_instance(start=False)


@pytest.fixture
def server(make_instance):
    return make_instance(start=True)
