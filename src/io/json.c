/* SPDX-License-Identifier: MIT */
/* A small recursive-descent JSON reader (see json.h). Depth is limited so a
 * hostile file cannot exhaust the stack. Strings are stored once, unescaped,
 * in one buffer; nodes refer to them by offset until parsing ends. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define MAX_DEPTH 64

typedef struct parser {
    const char *s, *end, *name;
    int line;
    ms_json *doc;
    mlshift_error *err;
} parser;

static mlshift_status fail(parser *p, const char *what)
{
    return ms_fail(p->err, MLSHIFT_ERR_FORMAT, "%s:%d: %s", p->name, p->line,
                   what);
}

static void skip_ws(parser *p)
{
    while (p->s < p->end) {
        char c = *p->s;
        if (c == '\n')
            p->line++;
        else if (c != ' ' && c != '\t' && c != '\r')
            break;
        p->s++;
    }
}

static int new_node(parser *p, ms_json_type t, size_t *idx)
{
    ms_json *d = p->doc;
    if (ms_grow((void **)&d->nodes, &d->cap, d->n + 1, sizeof *d->nodes))
        return -1;
    memset(&d->nodes[d->n], 0, sizeof d->nodes[d->n]);
    d->nodes[d->n].type = t;
    d->nodes[d->n].line = p->line;
    *idx = d->n++;
    return 0;
}

static int put_char(ms_json *d, char c)
{
    if (ms_grow((void **)&d->strings, &d->scap, d->slen + 1, 1))
        return -1;
    d->strings[d->slen++] = c;
    return 0;
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    return 0;
}

/* Parses a string at p->s (the opening quote); stores its offset. */
static mlshift_status parse_string(parser *p, size_t *off)
{
    ms_json *d = p->doc;
    p->s++;
    *off = d->slen;
    while (p->s < p->end && *p->s != '"') {
        unsigned char c = (unsigned char)*p->s++;
        if (c < 0x20)
            return fail(p, "control character in a string");
        if (c == '\\') {
            if (p->s >= p->end)
                break;
            char e = *p->s++;
            const char *map = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *m = strchr(map, e);
            if (e && m) {
                c = (unsigned char)to[m - map];
            } else if (e == 'u') {
                unsigned u;
                if (p->end - p->s < 4 || hex4(p->s, &u))
                    return fail(p, "bad \\u escape");
                p->s += 4;
                unsigned lo;
                if (u >= 0xD800 && u < 0xDC00 && p->end - p->s >= 6 &&
                    p->s[0] == '\\' && p->s[1] == 'u' && !hex4(p->s + 2, &lo) &&
                    lo >= 0xDC00 && lo < 0xE000) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                    p->s += 6;
                }
                /* UTF-8 encode. */
                if (u < 0x80) {
                    c = (unsigned char)u;
                } else {
                    char b[4];
                    int k = 0;
                    if (u < 0x800) {
                        b[k++] = (char)(0xC0 | (u >> 6));
                    } else if (u < 0x10000) {
                        b[k++] = (char)(0xE0 | (u >> 12));
                        b[k++] = (char)(0x80 | ((u >> 6) & 0x3F));
                    } else {
                        b[k++] = (char)(0xF0 | (u >> 18));
                        b[k++] = (char)(0x80 | ((u >> 12) & 0x3F));
                        b[k++] = (char)(0x80 | ((u >> 6) & 0x3F));
                    }
                    for (int i = 0; i < k; i++)
                        if (put_char(d, b[i]))
                            return ms_fail(p->err, MLSHIFT_ERR_NOMEM, "out of memory");
                    c = (unsigned char)(0x80 | (u & 0x3F));
                }
            } else {
                return fail(p, "bad escape in a string");
            }
        }
        if (put_char(d, (char)c))
            return ms_fail(p->err, MLSHIFT_ERR_NOMEM, "out of memory");
    }
    if (p->s >= p->end)
        return fail(p, "unterminated string");
    p->s++;
    if (put_char(d, '\0'))
        return ms_fail(p->err, MLSHIFT_ERR_NOMEM, "out of memory");
    return MLSHIFT_OK;
}

static mlshift_status parse_value(parser *p, size_t *idx, int depth);

/* Links children (given as node indices in a temporary list) under node. */
static mlshift_status parse_container(parser *p, size_t idx, int depth,
                                      int object)
{
    char close = object ? '}' : ']';
    p->s++;
    skip_ws(p);
    size_t prev = 0, count = 0;
    if (p->s < p->end && *p->s == close) {
        p->s++;
        return MLSHIFT_OK;
    }
    for (;;) {
        size_t key_off = 0;
        skip_ws(p);
        if (object) {
            if (p->s >= p->end || *p->s != '"')
                return fail(p, "expected a member name");
            mlshift_status st = parse_string(p, &key_off);
            if (st)
                return st;
            skip_ws(p);
            if (p->s >= p->end || *p->s != ':')
                return fail(p, "expected ':'");
            p->s++;
        }
        size_t child;
        mlshift_status st = parse_value(p, &child, depth + 1);
        if (st)
            return st;
        ms_json_node *nodes = p->doc->nodes;
        if (object)
            nodes[child].key = (const char *)(uintptr_t)(key_off + 1);
        if (count == 0)
            nodes[idx].first_child = child;
        else
            nodes[prev].next = child;
        prev = child;
        count++;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            break;
        }
        return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    p->doc->nodes[idx].n_children = count;
    return MLSHIFT_OK;
}

static mlshift_status parse_value(parser *p, size_t *idx, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(p, "nested too deeply");
    skip_ws(p);
    if (p->s >= p->end)
        return fail(p, "unexpected end of file");
    char c = *p->s;
    mlshift_status st = MLSHIFT_OK;
    if (c == '{' || c == '[') {
        if (new_node(p, c == '{' ? MS_JSON_OBJECT : MS_JSON_ARRAY, idx))
            return ms_fail(p->err, MLSHIFT_ERR_NOMEM, "out of memory");
        return parse_container(p, *idx, depth, c == '{');
    }
    if (c == '"') {
        if (new_node(p, MS_JSON_STRING, idx))
            return ms_fail(p->err, MLSHIFT_ERR_NOMEM, "out of memory");
        size_t off;
        st = parse_string(p, &off);
        p->doc->nodes[*idx].string = (const char *)(uintptr_t)(off + 1);
        return st;
    }
    static const struct { const char *word; ms_json_type t; double v; } lit[] = {
        {"true", MS_JSON_BOOL, 1}, {"false", MS_JSON_BOOL, 0}, {"null", MS_JSON_NULL, 0}};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(lit[k].word);
        if ((size_t)(p->end - p->s) >= n && !strncmp(p->s, lit[k].word, n)) {
            if (new_node(p, lit[k].t, idx))
                return ms_fail(p->err, MLSHIFT_ERR_NOMEM, "out of memory");
            p->doc->nodes[*idx].number = lit[k].v;
            p->s += n;
            return MLSHIFT_OK;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64];
        size_t n = 0;
        while (p->s + n < p->end && n < sizeof buf - 1 &&
               strchr("+-0123456789.eE", p->s[n]))
            n++;
        memcpy(buf, p->s, n);
        buf[n] = '\0';
        char *end;
        double v = strtod(buf, &end);
        if (end != buf + n)
            return fail(p, "bad number");
        if (new_node(p, MS_JSON_NUMBER, idx))
            return ms_fail(p->err, MLSHIFT_ERR_NOMEM, "out of memory");
        p->doc->nodes[*idx].number = v;
        p->s += n;
        return MLSHIFT_OK;
    }
    return fail(p, "unexpected character");
}

mlshift_status ms_json_parse(ms_json *doc, const char *text, size_t len,
                             const char *name, mlshift_error *err)
{
    memset(doc, 0, sizeof *doc);
    parser p = {text, text + len, name, 1, doc, err};
    size_t root;
    mlshift_status st = parse_value(&p, &root, 0);
    if (st == MLSHIFT_OK) {
        skip_ws(&p);
        if (p.s != p.end)
            st = fail(&p, "trailing characters after the document");
    }
    if (st != MLSHIFT_OK) {
        ms_json_free(doc);
        return st;
    }
    /* Offsets (stored +1 so that 0 means "none") become pointers now that
     * the string buffer no longer moves. */
    for (size_t i = 0; i < doc->n; i++) {
        ms_json_node *nd = &doc->nodes[i];
        if (nd->key)
            nd->key = doc->strings + ((uintptr_t)nd->key - 1);
        if (nd->string)
            nd->string = doc->strings + ((uintptr_t)nd->string - 1);
    }
    return MLSHIFT_OK;
}

void ms_json_free(ms_json *doc)
{
    free(doc->nodes);
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const ms_json_node *ms_json_get(const ms_json *doc, const ms_json_node *obj,
                                const char *key)
{
    if (!obj || obj->type != MS_JSON_OBJECT || !obj->n_children)
        return NULL;
    for (size_t i = obj->first_child;; i = doc->nodes[i].next) {
        if (doc->nodes[i].key && strcmp(doc->nodes[i].key, key) == 0)
            return &doc->nodes[i];
        if (!doc->nodes[i].next)
            return NULL;
    }
}

const ms_json_node *ms_json_at(const ms_json *doc, const ms_json_node *arr,
                               size_t i)
{
    if (!arr || (arr->type != MS_JSON_ARRAY && arr->type != MS_JSON_OBJECT) ||
        i >= arr->n_children)
        return NULL;
    size_t k = arr->first_child;
    while (i--)
        k = doc->nodes[k].next;
    return &doc->nodes[k];
}

const ms_json_node *ms_json_first(const ms_json *doc, const ms_json_node *arr)
{
    if (!arr || (arr->type != MS_JSON_ARRAY && arr->type != MS_JSON_OBJECT) ||
        !arr->n_children)
        return NULL;
    return &doc->nodes[arr->first_child];
}

const ms_json_node *ms_json_next(const ms_json *doc, const ms_json_node *node)
{
    return node->next ? &doc->nodes[node->next] : NULL;
}
