/* SPDX-License-Identifier: MIT */
/* The extxyz comment line: splitting it into key=value pairs by ASE's rules,
 * and writing one pair back in a form both ASE and mlshift_info_get read.
 *
 * ASE 3.22's key_val_str_to_dict walks the stripped line one character at a
 * time, building a list of pairs, each a list of parts (key, then value
 * parts). A backslash copies the next character verbatim; inside a quote or
 * bracket everything but the closing delimiter is copied; outside, a blank
 * ends the current part unless it is empty, and '=' opens a value part (or,
 * right after a blank, reopens the previous pair: "a = b" is a=b). A pair's
 * value is its parts after the key joined with '='. We follow the same walk
 * but keep the decoded text of each pair in one buffer. */
#include "extxyz.h"

#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

void ms_kv_free(ms_kv_list *l)
{
    free(l->kv);
    free(l->buf);
    memset(l, 0, sizeof *l);
}

/* Starts a new, empty pair at buffer offset o. */
static int push_pair(ms_kv_list *l, size_t o)
{
    if (ms_grow((void **)&l->kv, &l->cap, l->n + 1, sizeof *l->kv))
        return -1;
    ms_kv *kv = &l->kv[l->n++];
    kv->key = o;
    kv->klen = 0;
    kv->val = o;
    kv->vlen = 0;
    kv->has_val = 0;
    return 0;
}

int ms_kv_parse(ms_kv_list *l, const char *s, size_t len)
{
    while (len && ms_is_blank(*s)) {
        s++;
        len--;
    }
    while (len && ms_is_blank(s[len - 1]))
        len--;
    l->n = 0;
    if (ms_grow((void **)&l->buf, &l->cap_buf, len + 1, 1) || push_pair(l, 0))
        return -1;
    char *buf = l->buf;
    size_t o = 0;          /* decoded bytes so far */
    size_t part = 0;       /* length of the current part */
    int escaped = 0;
    char delim = 0;        /* closing delimiter while inside one */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        ms_kv *kv = &l->kv[l->n - 1];
        int add = 0;
        if (escaped) {
            escaped = 0;
            add = 1;
        } else if (c == '\\') {
            escaped = 1;
        } else if (delim) {
            if (c == delim)
                delim = 0;
            else
                add = 1;
        } else if (c == '"' || c == '\'' || c == '{' || c == '[') {
            delim = c == '{' ? '}' : c == '[' ? ']' : c;
        } else if (ms_is_blank(c)) {
            if (part == 0)
                continue;
            if (push_pair(l, o))
                return -1;
            part = 0;
        } else if (c == '=') {
            /* An empty pair right after a blank gives its '=' to the pair
             * before it. */
            if (!kv->has_val && kv->klen == 0 && part == 0 && l->n > 1) {
                l->n--;
                kv = &l->kv[l->n - 1];
            }
            if (kv->has_val) {
                buf[o++] = '=';
                kv->vlen++;
            } else {
                kv->has_val = 1;
                kv->val = o;
                kv->vlen = 0;
            }
            part = 0;
        } else {
            add = 1;
        }
        if (add) {
            buf[o++] = c;
            part++;
            if (kv->has_val)
                kv->vlen++;
            else
                kv->klen++;
        }
    }
    buf[o] = '\0';
    /* Drop pairs without a key ("=5", a trailing ""). */
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->kv[i].klen)
            l->kv[k++] = l->kv[i];
    l->n = k;
    return 0;
}

long ms_kv_find(const ms_kv_list *l, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = l->n; i-- > 0;)
        if (l->kv[i].klen == n && memcmp(l->buf + l->kv[i].key, key, n) == 0)
            return (long)i;
    return -1;
}

/* Whether text needs "…" to survive ASE's splitter and mlshift_info_get. */
static int needs_quotes(const char *t, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (ms_is_blank(c) || c == '\0' || c == '"' || c == '\'' || c == '{' ||
            c == '}' || c == '[' || c == ']' || c == '\\' || c == '=')
            return 1;
    }
    return 0;
}

/* Appends t[0, n), quoted when needed; *len excludes the NUL. */
static int put_text(char **s, size_t *len, size_t *cap, const char *t, size_t n)
{
    if (ms_grow((void **)s, cap, *len + 2 * n + 4, 1))
        return -1;
    char *d = *s + *len;
    if (!needs_quotes(t, n)) {
        memcpy(d, t, n);
        d += n;
    } else {
        *d++ = '"';
        for (size_t i = 0; i < n; i++) {
            char c = t[i];
            if (c == '\\' || c == '"')
                *d++ = '\\';
            *d++ = (c == '\n' || c == '\0') ? ' ' : c;
        }
        *d++ = '"';
    }
    *d = '\0';
    *len = (size_t)(d - *s);
    return 0;
}

int ms_kv_append(char **s, size_t *len, size_t *cap, const char *key,
                 size_t klen, const char *val, size_t vlen, int has_val)
{
    if (ms_grow((void **)s, cap, *len + 3, 1))
        return -1;
    if (*len)
        (*s)[(*len)++] = ' ';
    (*s)[*len] = '\0';
    if (put_text(s, len, cap, key, klen))
        return -1;
    if (!has_val)
        return 0;
    (*s)[(*len)++] = '=';
    (*s)[*len] = '\0';
    return put_text(s, len, cap, val, vlen);
}
