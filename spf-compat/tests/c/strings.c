/* strings.c: prints every text of SPF_strresult, SPF_strreason,
 * SPF_strerror and SPF_strrrtype (in and out of range) and the library
 * version. run.sh runs it on Debian's libspf2 and on spf-compat's, and the
 * outputs must be identical. */
#include <stdio.h>
#include <netinet/in.h>
#include <spf2/spf.h>

int main(void)
{
    for (int i = -1; i <= 9; i++)
        printf("result %d [%s]\n", i, SPF_strresult((SPF_result_t)i));
    for (int i = -1; i <= 8; i++)
        printf("reason %d [%s]\n", i, SPF_strreason((SPF_reason_t)i));
    for (int i = -1; i <= 34; i++)
        printf("err %d [%s]\n", i, SPF_strerror((SPF_errcode_t)i));
    int types[] = {0, 1, 2, 5, 6, 12, 15, 16, 28, 99, 255, 1000};
    for (unsigned i = 0; i < sizeof types / sizeof types[0]; i++)
        printf("rrtype %d [%s]\n", types[i], SPF_strrrtype((ns_type)types[i]));
    int major, minor, patch;
    SPF_get_lib_version(&major, &minor, &patch);
    printf("version %d.%d.%d\n", major, minor, patch);
    return 0;
}
