/* SPDX-License-Identifier: MIT */
/* A small JSON reader (RFC 8259) for mlshift's own files (training
 * statistics, configurations): the whole document parsed into one array of
 * nodes; objects and arrays keep their children contiguous by index.
 * Numbers are doubles (strtod, so exact for what we write with %.17g). */
#ifndef MLSHIFT_JSON_H
#define MLSHIFT_JSON_H

#include <stddef.h>

#include "mlshift.h"

typedef enum ms_json_type {
    MS_JSON_NULL, MS_JSON_BOOL, MS_JSON_NUMBER, MS_JSON_STRING,
    MS_JSON_ARRAY, MS_JSON_OBJECT
} ms_json_type;

typedef struct ms_json_node {
    ms_json_type type;
    double number;          /* NUMBER; BOOL as 0/1 */
    const char *string;     /* STRING (unescaped, NUL-terminated) */
    const char *key;        /* member name when inside an object */
    size_t n_children;      /* ARRAY, OBJECT */
    size_t first_child;     /* index of the first child */
    size_t next;            /* index of the next sibling, 0 = none */
    int line;               /* line of the value in the text */
} ms_json_node;

typedef struct ms_json {
    ms_json_node *nodes;    /* nodes[0] is the root */
    size_t n, cap;
    char *strings;          /* unescaped strings */
    size_t slen, scap;
} ms_json;

/* Parses text (len bytes); `name` labels errors "NAME:LINE: …". */
mlshift_status ms_json_parse(ms_json *doc, const char *text, size_t len,
                             const char *name, mlshift_error *err);
void ms_json_free(ms_json *doc);
/* Member `key` of object node, or NULL. */
const ms_json_node *ms_json_get(const ms_json *doc, const ms_json_node *obj,
                                const char *key);
/* Iteration over the children of an array or object:
 *     for (const ms_json_node *c = ms_json_first(doc, arr); c;
 *          c = ms_json_next(doc, c)) … */
const ms_json_node *ms_json_first(const ms_json *doc, const ms_json_node *arr);
const ms_json_node *ms_json_next(const ms_json *doc, const ms_json_node *node);
/* Child i of an array (or object), or NULL; O(i). */
const ms_json_node *ms_json_at(const ms_json *doc, const ms_json_node *arr,
                               size_t i);

#endif /* MLSHIFT_JSON_H */
