/* fuzz_dns_txt.c - DNS answers: to a TXT query (dns_txt_parse), and the
   TTL of an MX answer (dns_answer_ttl, the MX cache's). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/dns.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct dns_txt_set set;
	uint32_t ttl;
	size_t i;

	if (dns_answer_ttl(data, len, 15, &ttl) == 0 && ttl > 86400)
		abort();

	if (dns_txt_parse(data, len, &set) == 0) {
		for (i = 0; i < set.n; i++)
			if (set.rec[i].len > len ||
			    set.rec[i].text[set.rec[i].len] != '\0')
				abort();
		if (set.n > DNS_TXT_MAX || set.ttl > 86400)
			abort();
	} else if (set.n != 0 || set.blob != NULL) {
		abort();
	}
	dns_txt_set_free(&set);
	return 0;
}
