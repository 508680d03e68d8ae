/* smimesync-lab users: who holds which certificates (all drawn from the seeded PRNG), users.csv
 * as an Entra ID export and manifest.jsonl, the answer key for tests. */
#include "lab.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const first_names[] = {
    "Alice", "Bob",    "Carol",  "David",  "Emma",   "Frank",  "Grace",  "Henry",
    "Irene", "Jack",   "Karen",  "Liam",   "Maria",  "Noah",   "Olivia", "Peter",
    "Quinn", "Rachel", "Samuel", "Tina",   "Ulrich", "Vera",   "Walter", "Xenia",
    "Yusuf", "Zoe",    "Amir",   "Bianca", "Carlos", "Dana",   "Elias",  "Fatima",
    "Georg", "Hanna",  "Ivan",   "Julia",  "Kenji",  "Lena",   "Marco",  "Nadia",
    "Oscar", "Paula",  "Rafael", "Sofia",  "Tomas",  "Ursula", "Victor", "Wanda",
    "Yara",  "Zeynep", "Anna",   "Ben",    "Chloe",  "Daniel", "Eva",    "Felix",
    "Greta", "Hugo",   "Ines",   "Jonas",  "Klara",  "Lukas",  "Mia",    "Nils"};

static const char *const last_names[] = {
    "Adams",    "Baker",  "Clark",    "Davis",     "Evans",     "Fischer", "Garcia",  "Hughes",
    "Ivanova",  "Jensen", "Keller",   "Lopez",     "Meyer",     "Nguyen",  "Olsen",   "Patel",
    "Quinto",   "Rossi",  "Schmidt",  "Tanaka",    "Underwood", "Vogel",   "Weber",   "Xu",
    "Young",    "Zimmer", "Andersen", "Becker",    "Costa",     "Dubois",  "Eriksen", "Ferrari",
    "Gomez",    "Hansen", "Ibrahim",  "Jovanovic", "Kowalski",  "Larsen",  "Martin",  "Novak",
    "Oliveira", "Petrov", "Ramos",    "Silva",     "Thomsen",   "Ueda",    "Varga",   "Wagner",
    "Yilmaz",   "Zhang",  "Bauer",    "Collins",   "Dietrich",  "Engel",   "Fuchs",   "Graf",
    "Hoffmann", "Jung",   "Koch",     "Lang",      "Morgan",    "Nowak",   "Park",    "Richter"};

#define NFIRST (sizeof first_names / sizeof first_names[0])
#define NLAST (sizeof last_names / sizeof last_names[0])

/* A set of the UPN local parts already handed out (open addressing). */
typedef struct name_set {
    const char **slot;
    size_t cap;
} name_set;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Returns 1 if s was added, 0 if present. The set keeps the pointer. */
static int name_set_add(name_set *ns, const char *s)
{
    size_t i = (size_t)fnv1a(s) & (ns->cap - 1);
    while (ns->slot[i]) {
        if (strcmp(ns->slot[i], s) == 0)
            return 0;
        i = (i + 1) & (ns->cap - 1);
    }
    ns->slot[i] = s;
    return 1;
}

static void lower_copy(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static int name_users(lab *l)
{
    name_set ns = {0};
    ns.cap = 16;
    while (ns.cap < 2 * (size_t)l->nuser)
        ns.cap *= 2;
    /* the local parts live in the users' upn fields; keep copies here for the set */
    char(*local)[80] = calloc(l->nuser, sizeof *local);
    ns.slot = calloc(ns.cap, sizeof *ns.slot);
    if (!local || !ns.slot) {
        free(local);
        free(ns.slot);
        lab_err("out of memory");
        return -1;
    }
    for (unsigned i = 0; i < l->nuser; i++) {
        lab_user *u = &l->user[i];
        const char *f = first_names[lab_rng_below(&l->rng, NFIRST)];
        const char *s = last_names[lab_rng_below(&l->rng, NLAST)];
        char fl[32], sl[32];
        lower_copy(fl, sizeof fl, f);
        lower_copy(sl, sizeof sl, s);
        snprintf(u->display, sizeof u->display, "%s %s", f, s);
        /* the same display name twice is normal; the UPN gets a number instead */
        for (unsigned n = 1;; n++) {
            if (n == 1)
                snprintf(local[i], sizeof local[i], "%s.%s", fl, sl);
            else
                snprintf(local[i], sizeof local[i], "%s.%s%u", fl, sl, n);
            if (name_set_add(&ns, local[i]))
                break;
        }
        snprintf(u->upn, sizeof u->upn, "%s@lab.example", local[i]);
        snprintf(u->mail, sizeof u->mail, "%s", u->upn);
        snprintf(u->dir_mail, sizeof u->dir_mail, "%s", u->upn);
        u->subject_email = lab_rng_below(&l->rng, 4) == 0;
        if (!u->unknown)
            lab_rng_guid(&l->rng, u->id);
    }
    /* a few users whose primary mail in Entra ID changed after issuance (another domain), so the
     * certificate's e-mail no longer matches: the sync should warn */
    unsigned want = l->opt.users >= 5 ? l->opt.users * 3 / 100 : 0;
    if (l->opt.users >= 5 && want == 0)
        want = 1;
    for (unsigned n = 0, tries = 0; n < want && tries < 100 * want; tries++) {
        lab_user *u = &l->user[lab_rng_below(&l->rng, l->nuser)];
        if (u->unknown || u->mismatch)
            continue;
        char *at = strchr(u->upn, '@');
        snprintf(u->dir_mail, sizeof u->dir_mail, "%.*s@mail.lab.example", (int)(at - u->upn),
                 u->upn);
        u->mismatch = 1;
        l->mismatches++;
        n++;
    }
    free(ns.slot);
    free(local);
    return 0;
}

static void make_serial(lab *l, unsigned request_id, unsigned char s[LAB_SERIAL_LEN])
{
    /* random, positive, no leading zero byte; the request id at the end keeps it unique (AD CS
     * serials also end in the request id) */
    lab_rng_bytes(&l->rng, s, LAB_SERIAL_LEN - 6);
    s[0] = (unsigned char)(0x10 + lab_rng_below(&l->rng, 0x70));
    for (int i = 0; i < 6; i++)
        s[LAB_SERIAL_LEN - 1 - i] = (unsigned char)((uint64_t)request_id >> (8 * i));
}

static void make_big_serial(lab *l, unsigned char *s, size_t n)
{
    lab_rng_bytes(&l->rng, s, n);
    s[0] = (unsigned char)(0x10 + lab_rng_below(&l->rng, 0x70));
}

int lab_plan(lab *l)
{
    l->nuser = l->opt.users + l->opt.unknown;
    l->user = calloc(l->nuser, sizeof *l->user);
    unsigned *pick = calloc(l->nuser, sizeof *pick);
    unsigned *gens = calloc(l->nuser, sizeof *gens);
    if (!l->user || !pick || !gens)
        goto nomem;

    make_big_serial(l, l->ca_serial, sizeof l->ca_serial);
    for (unsigned k = 0; k < l->opt.kras; k++)
        make_big_serial(l, l->kra_serial[k], LAB_KRA_SERIAL_LEN);
    for (unsigned k = 0; k < 3; k++)
        make_big_serial(l, l->tls_serial[k], sizeof l->tls_serial[k]);
    lab_rng_guid(&l->rng, l->tenant_id);
    lab_rng_guid(&l->rng, l->client_id);

    if (lab_rng_pick(&l->rng, l->nuser, l->opt.unknown, pick))
        goto nomem;
    for (unsigned i = 0; i < l->opt.unknown; i++)
        l->user[pick[i]].unknown = 1;
    if (name_users(l))
        goto fail;

    for (unsigned i = 0; i < l->nuser; i++)
        gens[i] = 1;
    if (lab_rng_pick(&l->rng, l->nuser, l->opt.renewals, pick))
        goto nomem;
    for (unsigned i = 0; i < l->opt.renewals; i++)
        gens[pick[i]] = 2 + lab_rng_below(&l->rng, 2);
    if (lab_rng_pick(&l->rng, l->nuser, l->opt.expired, pick))
        goto nomem;
    for (unsigned i = 0; i < l->opt.expired; i++)
        l->user[pick[i]].expired = 1;

    l->ncert = 0;
    for (unsigned i = 0; i < l->nuser; i++)
        l->ncert += gens[i];
    if (l->opt.revoked > l->ncert) {
        lab_err("--revoked %u: only %u certificates", l->opt.revoked, l->ncert);
        goto fail;
    }
    l->cert = calloc(l->ncert, sizeof *l->cert);
    if (!l->cert)
        goto nomem;

    unsigned ci = 0;
    for (unsigned i = 0; i < l->nuser; i++) {
        lab_user *u = &l->user[i];
        u->first_cert = ci;
        u->ncerts = gens[i];
        /* the current certificate: issued in the last ~21 months, or lapsed up to a year ago;
         * each older generation started 10-23 months before its successor, so its two years
         * overlap the successor's start and it may or may not have expired by now */
        time_t nb = u->expired
                        ? l->now - (LAB_CERT_DAYS + 1 + lab_rng_below(&l->rng, 365)) * LAB_DAY
                        : l->now - (1 + lab_rng_below(&l->rng, 640)) * LAB_DAY;
        nb -= lab_rng_below(&l->rng, 86400);
        for (unsigned g = gens[i]; g >= 1; g--) {
            lab_cert *c = &l->cert[ci + g - 1];
            c->user = i;
            c->generation = g;
            c->not_before = nb;
            c->not_after = nb + LAB_CERT_DAYS * LAB_DAY;
            c->superseded = g < gens[i];
            c->expired = c->not_after < l->now;
            nb -= (300 + lab_rng_below(&l->rng, 400)) * LAB_DAY + lab_rng_below(&l->rng, 86400);
        }
        for (unsigned g = 0; g < gens[i]; g++, ci++) {
            lab_cert *c = &l->cert[ci];
            make_serial(l, 0x21 + ci, c->serial);
            c->key = ci % l->opt.key_pool;
            c->enc = (lab_enc)(ci % 3);
            static const char *const ext[] = {"der", "b64", "pem"};
            snprintf(c->file, sizeof c->file, "blobs/u%05u-g%u.%s", i + 1, c->generation,
                     ext[c->enc]);
            l->superseded += (unsigned)c->superseded;
            l->expired += (unsigned)c->expired;
        }
    }

    unsigned *rpick = calloc(l->ncert ? l->ncert : 1, sizeof *rpick);
    if (!rpick || lab_rng_pick(&l->rng, l->ncert, l->opt.revoked, rpick)) {
        free(rpick);
        goto nomem;
    }
    for (unsigned i = 0; i < l->opt.revoked; i++) {
        lab_cert *c = &l->cert[rpick[i]];
        time_t end = (c->not_after < l->now ? c->not_after : l->now) - 3600;
        time_t span = end - c->not_before - LAB_DAY;
        c->revoked = 1;
        c->reason = c->superseded ? 4 /* superseded */ : 1 /* keyCompromise */;
        c->revoked_at = c->not_before + LAB_DAY +
                        (span > 0 ? (time_t)lab_rng_below(&l->rng, (uint32_t)span) : 0);
    }
    l->revoked = l->opt.revoked;
    free(rpick);
    free(gens);
    free(pick);
    return 0;
nomem:
    lab_err("out of memory");
fail:
    free(gens);
    free(pick);
    return -1;
}

int lab_write_users_csv(const lab *l)
{
    size_t cap = 64 + (size_t)l->opt.users * (96 + 37 + 96 + 4), len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        lab_err("out of memory");
        return -1;
    }
    len += (size_t)snprintf(buf, cap, "userPrincipalName,id,mail\n");
    for (unsigned i = 0; i < l->nuser; i++) {
        const lab_user *u = &l->user[i];
        if (!u->unknown)
            len += (size_t)snprintf(buf + len, cap - len, "%s,%s,%s\n", u->upn, u->id, u->dir_mail);
    }
    int rc = lab_write(l, "users.csv", buf, len, 0644);
    free(buf);
    return rc;
}

static json_t *cert_json(const lab *l, const lab_cert *c)
{
    const lab_user *u = &l->user[c->user];
    char nb[21], na[21];
    lab_iso8601(c->not_before, nb);
    lab_iso8601(c->not_after, na);
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "file", json_string(c->file));
    bad |= json_object_set_new(o, "encoding", json_string(lab_enc_name(c->enc)));
    bad |= json_object_set_new(o, "thumbprint", json_string(c->thumbprint));
    bad |= json_object_set_new(o, "serial", json_string(c->serial_hex));
    bad |= json_object_set_new(o, "userPrincipalName", json_string(u->upn));
    bad |= json_object_set_new(o, "mail", json_string(u->mail));
    bad |= json_object_set_new(o, "userId", u->unknown ? json_null() : json_string(u->id));
    bad |= json_object_set_new(o, "directoryMail",
                               u->unknown ? json_null() : json_string(u->dir_mail));
    bad |= json_object_set_new(o, "mailMismatch", json_boolean(u->mismatch));
    bad |= json_object_set_new(o, "generation", json_integer(c->generation));
    bad |= json_object_set_new(o, "superseded", json_boolean(c->superseded));
    bad |= json_object_set_new(o, "revoked", json_boolean(c->revoked));
    if (c->revoked) {
        char ra[21];
        lab_iso8601(c->revoked_at, ra);
        bad |= json_object_set_new(o, "revocationReason",
                                   json_string(c->reason == 4 ? "superseded" : "keyCompromise"));
        bad |= json_object_set_new(o, "revokedAt", json_string(ra));
    }
    bad |= json_object_set_new(o, "expired", json_boolean(c->expired));
    bad |= json_object_set_new(o, "notBefore", json_string(nb));
    bad |= json_object_set_new(o, "notAfter", json_string(na));
    bad |= json_object_set_new(o, "keyPoolIndex", json_integer(c->key));
    if (l->opt.groups)
        bad |= json_object_set_new(o, "inGroup", json_boolean(u->in_group != 0));
    if (l->opt.pfx_dir) {
        char stem[32], name[40];
        lab_pfx_stem(c, stem);
        snprintf(name, sizeof name, "%s.p12", stem);
        bad |= json_object_set_new(o, "pfxFile", json_string(name));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int lab_write_manifest(const lab *l)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        goto nomem;
    for (unsigned i = 0; i < l->ncert; i++) {
        json_t *o = cert_json(l, &l->cert[i]);
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!line)
            goto nomem;
        size_t n = strlen(line);
        if (len + n + 2 > cap) {
            while (len + n + 2 > cap)
                cap *= 2;
            char *bigger = realloc(buf, cap);
            if (!bigger) {
                free(line);
                goto nomem;
            }
            buf = bigger;
        }
        memcpy(buf + len, line, n);
        len += n;
        buf[len++] = '\n';
        free(line);
    }
    int rc = lab_write(l, "manifest.jsonl", buf, len, 0644);
    free(buf);
    return rc;
nomem:
    free(buf);
    lab_err("out of memory");
    return -1;
}
