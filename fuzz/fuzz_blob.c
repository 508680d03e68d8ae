/* Fuzz target: recovery blobs (DER, base64, base64 with header; SignedData or bare
 * EnvelopedData) through the whole recovery: decoding, decryption with the test KRA, key-blob
 * parsing and matching the user certificate. */
#include "fileio.h"
#include "recover.h"

#include <stdint.h>
#include <stdlib.h>

static ssync_kra_set *kras;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ssync_error err;
    ssync_buf pass = {0};
    if (ssync_kra_set_new(&kras, &err) != SSYNC_OK ||
        ssync_read_secret_file(SSYNC_FUZZ_DATA "/adcs-basic/kra.pass", &pass, &err) != SSYNC_OK ||
        ssync_kra_set_add_file(kras, SSYNC_FUZZ_DATA "/adcs-basic/kra.p12", (const char *)pass.data,
                               NULL, &err) != SSYNC_OK)
        abort(); /* the harness itself is broken: no point fuzzing without a KRA */
    ssync_buf_free_secret(&pass);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    ssync_error err;
    ssync_recovered r = {0};
    if (ssync_recover_blob(kras, data, len, NULL, &r, &err) == SSYNC_OK)
        ssync_recovered_clear(&r);
    return 0;
}
