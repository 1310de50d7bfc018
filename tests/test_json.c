/* SPDX-License-Identifier: MIT */
/* The JSON reader: hand-written documents, every malformed case with its
 * line, and `test_json --dump FILE` (a canonical re-serialisation that
 * tests/reference/test_json.py compares with Python's json module). */
#include "check.h"
#include "io/json.h"

static void dump(const ms_json *d, const ms_json_node *n)
{
    switch (n->type) {
    case MS_JSON_NULL: printf("null"); break;
    case MS_JSON_BOOL: printf(n->number ? "true" : "false"); break;
    case MS_JSON_NUMBER: printf("%.17g", n->number); break;
    case MS_JSON_STRING:
    case MS_JSON_ARRAY:
    case MS_JSON_OBJECT:
        if (n->type == MS_JSON_STRING) {
            putchar('"');
            for (const unsigned char *s = (const unsigned char *)n->string; *s; s++)
                if (*s == '"' || *s == '\\') printf("\\%c", *s);
                else if (*s < 0x20) printf("\\u%04x", *s);
                else putchar(*s);
            putchar('"');
            break;
        }
        putchar(n->type == MS_JSON_ARRAY ? '[' : '{');
        for (const ms_json_node *c = ms_json_first(d, n); c; c = ms_json_next(d, c)) {
            if (c != ms_json_first(d, n))
                putchar(',');
            if (n->type == MS_JSON_OBJECT)
                printf("\"%s\":", c->key);
            dump(d, c);
        }
        putchar(n->type == MS_JSON_ARRAY ? ']' : '}');
        break;
    }
}

static int parse(const char *text, ms_json *d, mlshift_error *err)
{
    return ms_json_parse(d, text, strlen(text), "doc.json", err);
}

int main(int argc, char **argv)
{
    mlshift_error err;
    ms_json d;
    if (argc == 3 && !strcmp(argv[1], "--dump")) {
        FILE *fp = fopen(argv[2], "rb");
        static char buf[1 << 20];
        size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
        if (fp)
            fclose(fp);
        if (ms_json_parse(&d, buf, n, argv[2], &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 2;
        }
        dump(&d, &d.nodes[0]);
        putchar('\n');
        ms_json_free(&d);
        return 0;
    }
    const char *doc = "{\n \"version\": 1,\n \"cutoff\": 5.0,\n"
                      " \"name\": \"a \\\"q\\\" \\u00e9\",\n"
                      " \"spectrum\": [0, 0.5, 1e-3, -2],\n"
                      " \"nested\": {\"ok\": true, \"no\": false, \"nil\": null},\n"
                      " \"empty\": [], \"eobj\": {}\n}";
    CHECK(parse(doc, &d, &err) == MLSHIFT_OK, "valid document: %s", err.message);
    const ms_json_node *root = &d.nodes[0];
    const ms_json_node *v = ms_json_get(&d, root, "version");
    CHECK(v && v->type == MS_JSON_NUMBER && v->number == 1.0, "version");
    v = ms_json_get(&d, root, "name");
    CHECK(v && !strcmp(v->string, "a \"q\" \xc3\xa9"), "escapes: '%s'", v ? v->string : "");
    v = ms_json_get(&d, root, "spectrum");
    CHECK(v && v->n_children == 4 && ms_json_at(&d, v, 2)->number == 1e-3 &&
          ms_json_at(&d, v, 3)->number == -2.0 && v->line == 5, "array");
    const ms_json_node *nest = ms_json_get(&d, root, "nested");
    CHECK(nest && ms_json_get(&d, nest, "ok")->number == 1 &&
          ms_json_get(&d, nest, "nil")->type == MS_JSON_NULL, "nested object");
    CHECK(ms_json_get(&d, root, "empty")->n_children == 0 &&
          !ms_json_first(&d, ms_json_get(&d, root, "empty")), "empty array");
    CHECK(!ms_json_get(&d, root, "missing") && !ms_json_at(&d, v, 4), "absent");
    ms_json_free(&d);

    struct { const char *text; int line; } bad[] = {
        {"", 1}, {"{", 1}, {"{\"a\" 1}", 1}, {"{\"a\": 1,}", 1}, {"[1, 2", 1},
        {"{\n\n\"a\": tru}", 3}, {"\"abc", 1}, {"[1] 2", 1}, {"{\"a\": 1.2.3}", 1},
        {"[\"\\x\"]", 1}, {"[\"\\u12g4\"]", 1}, {"{1: 2}", 1}, {"\n\n\n@", 4},
        {"[\"a\nb\"]", 1}, {"nul", 1},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int st = parse(bad[k].text, &d, &err);
        char want[32];
        snprintf(want, sizeof want, "doc.json:%d:", bad[k].line);
        CHECK(st == MLSHIFT_ERR_FORMAT && strstr(err.message, want),
              "malformed %zu: '%s'", k, st ? err.message : "accepted");
    }
    char deep[400];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 200);
    CHECK(ms_json_parse(&d, deep, sizeof deep, "deep", &err) == MLSHIFT_ERR_FORMAT,
          "nesting depth is limited");
    return check_done();
}
