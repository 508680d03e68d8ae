/* The OData $filter subset the emulator understands (Graph docs: Use query parameters, Advanced
 * query capabilities on Microsoft Entra ID objects; the tolower() forms are those of Microsoft's
 * PFXImport module, GetUserPFXCertificate.cs):
 *   expr    := primary ('and' primary)*
 *   primary := '(' expr ')'
 *            | operand 'eq' STRING
 *            | operand 'in' '(' STRING (',' STRING)* ')'
 *            | IDENT '/any(' VAR ':' VAR 'eq' STRING ')'
 *   operand := IDENT | 'tolower' '(' IDENT ')'
 * STRING is single-quoted, a doubled quote ('') stands for one quote. Everything else is
 * refused, and the caller answers 400 like Graph does for unsupported filters. */
#include "emu.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum tok_kind { T_END, T_IDENT, T_STRING, T_LP, T_RP, T_COMMA, T_COLON, T_BAD } tok_kind;

typedef struct parser {
    const char *s;
    size_t pos;
    tok_kind kind;
    char *text; /* IDENT or STRING value */
    char *msg;
    size_t msglen;
    int failed;
} parser;

static void fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, p->msglen, fmt, ap);
    va_end(ap);
}

static void next(parser *p)
{
    free(p->text);
    p->text = NULL;
    const char *s = p->s;
    while (s[p->pos] == ' ' || s[p->pos] == '\t')
        p->pos++;
    char c = s[p->pos];
    if (c == '\0') {
        p->kind = T_END;
        return;
    }
    if (c == '(' || c == ')' || c == ',' || c == ':') {
        p->kind = c == '(' ? T_LP : c == ')' ? T_RP : c == ',' ? T_COMMA : T_COLON;
        p->pos++;
        return;
    }
    if (c == '\'') {
        size_t cap = strlen(s + p->pos) + 1, n = 0;
        char *out = malloc(cap);
        if (!out) {
            p->kind = T_BAD;
            return;
        }
        p->pos++;
        for (;;) {
            char d = s[p->pos];
            if (d == '\0') {
                free(out);
                p->kind = T_BAD;
                fail(p, "unterminated string literal");
                return;
            }
            if (d == '\'') {
                if (s[p->pos + 1] == '\'') { /* '' is an escaped quote */
                    out[n++] = '\'';
                    p->pos += 2;
                    continue;
                }
                p->pos++;
                break;
            }
            out[n++] = d;
            p->pos++;
        }
        out[n] = '\0';
        p->text = out;
        p->kind = T_STRING;
        return;
    }
    if (isalnum((unsigned char)c) || c == '_' || c == '$' || c == '@') {
        size_t start = p->pos;
        while (isalnum((unsigned char)s[p->pos]) || s[p->pos] == '_' || s[p->pos] == '/' ||
               s[p->pos] == '.' || s[p->pos] == '$' || s[p->pos] == '@')
            p->pos++;
        p->text = strndup(s + start, p->pos - start);
        p->kind = p->text ? T_IDENT : T_BAD;
        return;
    }
    p->kind = T_BAD;
    fail(p, "unexpected character '%c' at position %zu", c, p->pos);
}

static int is_kw(const parser *p, const char *kw)
{
    return p->kind == T_IDENT && strcasecmp(p->text, kw) == 0;
}

static emu_filter *node(emu_fop op)
{
    emu_filter *f = calloc(1, sizeof(*f));
    if (f)
        f->op = op;
    return f;
}

static int add_value(emu_filter *f, const char *v)
{
    char **vals = realloc(f->values, (f->nvalues + 1) * sizeof(*vals));
    if (!vals)
        return -1;
    f->values = vals;
    f->values[f->nvalues] = strdup(v);
    if (!f->values[f->nvalues])
        return -1;
    f->nvalues++;
    return 0;
}

/* The current token must be a string literal: adds it to f's values and moves past it. */
static int take_string(parser *p, emu_filter *f, const char *where)
{
    if (p->kind != T_STRING) {
        fail(p, "a string literal is expected %s", where);
        return -1;
    }
    if (add_value(f, p->text) != 0)
        return -1;
    next(p);
    return 0;
}

static emu_filter *parse_expr(parser *p);

static emu_filter *parse_primary(parser *p)
{
    if (p->kind == T_LP) {
        next(p);
        emu_filter *e = parse_expr(p);
        if (!e)
            return NULL;
        if (p->kind != T_RP) {
            fail(p, "')' expected");
            emu_filter_free(e);
            return NULL;
        }
        next(p);
        return e;
    }
    if (p->kind != T_IDENT) {
        fail(p, "a property name is expected");
        return NULL;
    }
    emu_filter *f = node(EMU_F_EQ);
    if (!f) {
        fail(p, "out of memory");
        return NULL;
    }
    size_t len = strlen(p->text);
    if (strcasecmp(p->text, "tolower") == 0) {
        next(p);
        if (p->kind != T_LP) {
            fail(p, "'(' expected after tolower");
            goto bad;
        }
        next(p);
        if (p->kind != T_IDENT) {
            fail(p, "tolower() takes a property name");
            goto bad;
        }
        f->prop = strdup(p->text);
        f->tolower = 1;
        next(p);
        if (p->kind != T_RP) {
            fail(p, "')' expected after tolower(%s", f->prop);
            goto bad;
        }
        next(p);
    } else if (len > 4 && strcasecmp(p->text + len - 4, "/any") == 0) {
        /* prop/any(x:x eq 'value') */
        f->op = EMU_F_ANY_EQ;
        f->prop = strndup(p->text, len - 4);
        next(p);
        char var[64] = "";
        if (p->kind != T_LP) {
            fail(p, "'(' expected after any");
            goto bad;
        }
        next(p);
        if (p->kind != T_IDENT || strlen(p->text) >= sizeof(var)) {
            fail(p, "a lambda variable is expected in any()");
            goto bad;
        }
        snprintf(var, sizeof(var), "%s", p->text);
        next(p);
        if (p->kind != T_COLON) {
            fail(p, "':' expected in any()");
            goto bad;
        }
        next(p);
        if (p->kind != T_IDENT || strcmp(p->text, var) != 0) {
            fail(p, "only '%s eq ...' is supported inside any()", var);
            goto bad;
        }
        next(p);
        if (!is_kw(p, "eq")) {
            fail(p, "only 'eq' is supported inside any()");
            goto bad;
        }
        next(p);
        if (take_string(p, f, "after eq") != 0)
            goto bad;
        if (p->kind != T_RP) {
            fail(p, "')' expected to close any()");
            goto bad;
        }
        next(p);
        return f;
    } else {
        f->prop = strdup(p->text);
        next(p);
        if (p->kind == T_LP) {
            fail(p, "the function '%s' is not supported", f->prop);
            goto bad;
        }
    }
    if (!f->prop)
        goto bad;
    if (is_kw(p, "eq")) {
        f->op = EMU_F_EQ;
        next(p);
        if (take_string(p, f, "after eq") != 0)
            goto bad;
        return f;
    }
    if (is_kw(p, "in")) {
        f->op = EMU_F_IN;
        next(p);
        if (p->kind != T_LP) {
            fail(p, "'(' expected after in");
            goto bad;
        }
        do {
            next(p);
            if (take_string(p, f, "in the 'in' list") != 0)
                goto bad;
        } while (p->kind == T_COMMA);
        if (p->kind != T_RP) {
            fail(p, "')' expected to close the 'in' list");
            goto bad;
        }
        next(p);
        return f;
    }
    if (p->kind == T_IDENT)
        fail(p, "the operator '%s' is not supported", p->text);
    else
        fail(p, "an operator is expected after '%s'", f->prop);
bad:
    if (!p->failed)
        fail(p, "out of memory");
    emu_filter_free(f);
    return NULL;
}

static emu_filter *parse_expr(parser *p)
{
    emu_filter *left = parse_primary(p);
    while (left && is_kw(p, "and")) {
        next(p);
        emu_filter *right = parse_primary(p);
        if (!right) {
            emu_filter_free(left);
            return NULL;
        }
        emu_filter *a = node(EMU_F_AND);
        if (!a) {
            emu_filter_free(left);
            emu_filter_free(right);
            fail(p, "out of memory");
            return NULL;
        }
        a->op = EMU_F_AND;
        a->left = left;
        a->right = right;
        left = a;
    }
    if (left && p->kind == T_IDENT) {
        fail(p, "the operator '%s' is not supported", p->text);
        emu_filter_free(left);
        return NULL;
    }
    return left;
}

emu_filter *emu_filter_parse(const char *text, char *msg, size_t msglen)
{
    parser p = {text, 0, T_END, NULL, msg, msglen, 0};
    msg[0] = '\0';
    next(&p);
    if (p.kind == T_END) {
        snprintf(msg, msglen, "the filter is empty");
        return NULL;
    }
    emu_filter *f = p.failed ? NULL : parse_expr(&p);
    if (f && p.kind != T_END) {
        fail(&p, "unexpected text after the filter expression");
        emu_filter_free(f);
        f = NULL;
    }
    if (!f && !p.failed)
        snprintf(msg, msglen, "invalid filter");
    free(p.text);
    return f;
}

void emu_filter_free(emu_filter *f)
{
    if (!f)
        return;
    emu_filter_free(f->left);
    emu_filter_free(f->right);
    free(f->prop);
    for (size_t i = 0; i < f->nvalues; i++)
        free(f->values[i]);
    free(f->values);
    free(f);
}

int emu_filter_walk(emu_filter *f, int (*fn)(emu_filter *leaf, void *arg), void *arg)
{
    if (f->op == EMU_F_AND)
        return emu_filter_walk(f->left, fn, arg) == 0 && emu_filter_walk(f->right, fn, arg) == 0
                   ? 0
                   : -1;
    return fn(f, arg);
}

static int str_match(const char *have, const char *want, int lower, int ci)
{
    if (!have)
        return 0;
    if (lower) {
        /* tolower(prop) eq 'v': the lowered property must equal v exactly */
        for (; *have && *want; have++, want++)
            if (tolower((unsigned char)*have) != *want)
                return 0;
        return *have == '\0' && *want == '\0';
    }
    return ci ? strcasecmp(have, want) == 0 : strcmp(have, want) == 0;
}

int emu_filter_eval(const emu_filter *f, json_t *obj, int ci)
{
    switch (f->op) {
    case EMU_F_AND:
        return emu_filter_eval(f->left, obj, ci) && emu_filter_eval(f->right, obj, ci);
    case EMU_F_EQ:
    case EMU_F_IN: {
        const char *have = json_string_value(json_object_get(obj, f->prop));
        for (size_t i = 0; i < f->nvalues; i++)
            if (str_match(have, f->values[i], f->tolower, ci))
                return 1;
        return 0;
    }
    case EMU_F_ANY_EQ: {
        json_t *arr = json_object_get(obj, f->prop);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            if (str_match(json_string_value(v), f->values[0], 0, ci))
                return 1;
        }
        return 0;
    }
    }
    return 0;
}
