/* SPDX-License-Identifier: MIT */
/* The sectioned file: magic (8 bytes), u32 version, u32 section count,
 * per section str name (u32 length + bytes) + u64 length + bytes, then the
 * CRC-32 (zlib) of every byte before it; little-endian, written atomically.
 * Checkpoints hold a model file, the optimiser state, the trainer's state
 * and the best weights, each a section, so a reader checks one checksum
 * and then finds what it needs by name. */
#include "train/train.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/util.h"

static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < n;) {
        size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
        crc = crc32(crc, p + done, (uInt)chunk);
        done += chunk;
    }
    return (uint32_t)crc;
}

static void le(unsigned char *p, uint64_t x, int nb)
{
    for (int k = 0; k < nb; k++)
        p[k] = (unsigned char)(x >> (8 * k));
}

static uint64_t rd(const unsigned char *p, int nb)
{
    uint64_t x = 0;
    for (int k = 0; k < nb; k++)
        x |= (uint64_t)p[k] << (8 * k);
    return x;
}

mlshift_status ms_sections_write(const char *path, const char *magic, uint32_t version,
                                 const ms_section *s, size_t n, mlshift_error *err)
{
    size_t len = 8 + 4 + 4 + 4;
    for (size_t i = 0; i < n; i++)
        len += 4 + strlen(s[i].name) + 8 + s[i].len;
    unsigned char *buf = malloc(len), *p = buf;
    if (!buf)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    memcpy(p, magic, 8);
    p += 8;
    le(p, version, 4);
    le(p + 4, n, 4);
    p += 8;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(s[i].name);
        le(p, nl, 4);
        memcpy(p + 4, s[i].name, nl);
        p += 4 + nl;
        le(p, s[i].len, 8);
        p += 8;
        if (s[i].len)
            memcpy(p, s[i].data, s[i].len);
        p += s[i].len;
    }
    le(p, crc_of(buf, len - 4), 4);
    ms_atomic_file af;
    mlshift_status st = ms_atomic_open(&af, path, err);
    if (!st) {
        if (fwrite(buf, 1, len, af.fp) != len) {
            ms_atomic_abort(&af);
            st = ms_fail(err, MLSHIFT_ERR_IO, "%s: write failed", path);
        } else {
            st = ms_atomic_commit(&af, err);
        }
    }
    free(buf);
    return st;
}

mlshift_status ms_sections_parse(const unsigned char *data, size_t len, const char *where,
                                 const char *magic, uint32_t version, ms_section *s,
                                 size_t cap, size_t *n, mlshift_error *err)
{
    *n = 0;
    if (len < 20 || memcmp(data, magic, 8) != 0)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: not a %.8s file", where, magic);
    uint32_t v = (uint32_t)rd(data + 8, 4);
    if (v != version)
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                       "%s: version %u, this build reads version %u", where, v, version);
    if (crc_of(data, len - 4) != (uint32_t)rd(data + len - 4, 4))
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: checksum mismatch (file corrupt or truncated)", where);
    uint32_t ns = (uint32_t)rd(data + 12, 4);
    if (ns > cap)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: %u sections, at most %zu expected", where,
                       ns, cap);
    size_t at = 16, end = len - 4;
    for (uint32_t i = 0; i < ns; i++) {
        if (end - at < 4)
            return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: truncated section %u", where, i);
        size_t nl = (size_t)rd(data + at, 4);
        if (nl >= sizeof s[i].name || end - at - 4 < nl + 8)
            return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: bad name of section %u", where, i);
        memcpy(s[i].name, data + at + 4, nl);
        s[i].name[nl] = 0;
        at += 4 + nl;
        uint64_t sl = rd(data + at, 8);
        at += 8;
        if (sl > end - at)
            return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: section '%s' runs past the end",
                           where, s[i].name);
        s[i].data = data + at;
        s[i].len = (size_t)sl;
        at += (size_t)sl;
    }
    if (at != end)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: %zu unexpected bytes after the sections",
                       where, end - at);
    *n = ns;
    return MLSHIFT_OK;
}

const ms_section *ms_section_find(const ms_section *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    return NULL;
}
