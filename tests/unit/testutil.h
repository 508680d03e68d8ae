/* Helpers shared by the unit tests: paths into tests/data and loading small fixtures. */
#ifndef SSYNC_TESTUTIL_H
#define SSYNC_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/fileio.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

/* "$SSYNC_DATA/<rel>" (falls back to the source tree's tests/data); static buffer per call slot. */
const char *test_data_path(const char *rel);
/* Reads $SSYNC_DATA/<rel>; fails the test when missing. */
ssync_buf test_read(const char *rel);
X509 *test_load_cert(const char *rel);
EVP_PKEY *test_load_key(const char *rel);
/* A fresh temporary directory (removed by test_rmtree). */
char *test_tmpdir(void);
void test_rmtree(const char *dir);

#endif
