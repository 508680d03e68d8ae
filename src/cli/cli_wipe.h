/* Every block OpenSSL, libcurl and jansson free is wiped first. */
#ifndef SSYNC_CLI_WIPE_H
#define SSYNC_CLI_WIPE_H

/* Installs memory functions in OpenSSL, libcurl (with curl_global_init_mem) and jansson that
 * clear each block before freeing it (and before a realloc moves it). These libraries free
 * buffers that held a secret without clearing them, out of smimesync's reach: OpenSSL 3.0 the
 * PrivateKeyInfo DER of EVP_PKEY2PKCS8 and of its encoder (PKCS#12 building) and the DER its
 * decoders read a PKCS#12's key from; libcurl the request it sends (with the
 * "Authorization: Bearer" header); jansson the strings of a parsed token response. Without this
 * a user's or the KRA's private key, or the access token, stays in freed heap until the memory
 * is reused. Must run first in main, before anything allocates through these libraries.
 * Returns 0 when a library refused (OpenSSL once it has allocated, curl on failure). */
int cli_wipe_install(void);

/* The matching curl_global_cleanup, at the end of main. */
void cli_wipe_end(void);

#endif
