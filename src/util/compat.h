/*
 * compat.h - project-wide attributes and the list of banned functions.
 *
 * Include this header LAST in every .c file: it poisons the unbounded
 * string functions (STYLE.md section 4), so any use after it, in our code
 * or in a header included later, is a compile error.
 */
#ifndef POPGATE_COMPAT_H
#define POPGATE_COMPAT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#define UNUSED __attribute__((unused))
#define WARN_UNUSED __attribute__((warn_unused_result))

#ifndef nitems
#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#endif

#undef alloca
#pragma GCC poison strcpy strcat sprintf vsprintf gets strtok atoi atol alloca

#endif
