/* SPDX-License-Identifier: MIT */
/* ZIP reading for npz files (PKWARE APPNOTE 6.3, the parts numpy uses).
 *
 * Layout of an archive of n members:
 *   [local header 30 B | name | extra | data] × n
 *   [central directory entry 46 B | name | extra | comment] × n
 *   [ZIP64 EOCD record 56 B + ZIP64 EOCD locator 20 B]   (optional)
 *   [EOCD record 22 B | comment ≤ 65535 B]
 * The central directory is authoritative for sizes, CRC and the local
 * header's offset; the local header is read only for its own name and extra
 * lengths (they differ from the central ones: numpy writes a 20-byte ZIP64
 * extra field in every local header and none in the central entry). Sizes in
 * the central entry that read 0xFFFFFFFF are taken from its ZIP64 extra
 * field (0x0001), in the order: uncompressed, compressed, offset, disk.
 *
 * Safety: every read goes through `fits(off, n, len)`, written so that it
 * cannot overflow; the entry count is bounded by the directory's size before
 * anything is allocated; a DEFLATE member may not claim more than the format's
 * maximum ratio (1032:1), so a tiny hostile file cannot ask for gigabytes. */
#define _DEFAULT_SOURCE /* madvise */
#include "zip.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "../core/util.h"

enum {
    SIG_LOCAL = 0x04034b50,
    SIG_CENTRAL = 0x02014b50,
    SIG_EOCD = 0x06054b50,
    SIG_EOCD64 = 0x06064b50,
    SIG_LOC64 = 0x07064b50,
    LOCAL_LEN = 30,
    CENTRAL_LEN = 46,
    EOCD_LEN = 22,
    EOCD64_LEN = 56,
    LOC64_LEN = 20
};

/* Deflate cannot expand less than ~1032:1; allow a little slack. */
#define MAX_DEFLATE_RATIO 1032u

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* 1 if [off, off + n) lies inside a buffer of len bytes. */
static int fits(uint64_t off, uint64_t n, size_t len)
{
    return off <= len && n <= len - off;
}

/* Finds the EOCD record: the last signature whose comment ends exactly at
 * the end of the buffer. Returns its offset, or -1. */
static long find_eocd(const unsigned char *d, size_t len)
{
    if (len < EOCD_LEN)
        return -1;
    size_t last = len - EOCD_LEN;
    size_t first = last > 65535 ? last - 65535 : 0;
    for (size_t p = last + 1; p-- > first;) {
        if (rd32(d + p) == SIG_EOCD && p + EOCD_LEN + rd16(d + p + 20) == len)
            return (long)p;
    }
    return -1;
}

/* Applies a central entry's ZIP64 extra field to the values that read as
 * 0xFFFFFFFF. Returns 0, or -1 if the field is malformed or missing. */
static int apply_zip64(const unsigned char *ex, size_t exlen, uint64_t *usize,
                       uint64_t *csize, uint64_t *loff, int need_disk)
{
    int need = (*usize == 0xFFFFFFFFu) + (*csize == 0xFFFFFFFFu) +
               (*loff == 0xFFFFFFFFu) + need_disk;
    if (!need)
        return 0;
    size_t p = 0;
    while (p + 4 <= exlen) {
        unsigned id = rd16(ex + p), sz = rd16(ex + p + 2);
        if (sz > exlen - p - 4)
            return -1;
        if (id == 0x0001) {
            const unsigned char *f = ex + p + 4;
            size_t q = 0;
            uint64_t *vals[3] = {usize, csize, loff};
            for (int k = 0; k < 3; k++) {
                if (*vals[k] != 0xFFFFFFFFu)
                    continue;
                if (q + 8 > sz)
                    return -1;
                *vals[k] = rd64(f + q);
                q += 8;
            }
            if (need_disk && (q + 4 > sz || rd32(f + q) != 0))
                return -1;
            return 0;
        }
        p += 4 + (size_t)sz;
    }
    return -1;
}

void ms_zip_close(ms_zip *z)
{
    free(z->entries);
    free(z->names);
    memset(z, 0, sizeof *z);
}

/* Closes z after its error message (which may quote a member name held by
 * z) has been written; returns st. */
static mlshift_status closed(ms_zip *z, mlshift_status st)
{
    ms_zip_close(z);
    return st;
}

mlshift_status ms_zip_open(ms_zip *z, const unsigned char *d, size_t len,
                           const char *name, mlshift_error *err)
{
    memset(z, 0, sizeof *z);
    if (!name)
        name = "zip";
    z->name = name;
    long e = find_eocd(d, len);
    if (e < 0)
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: not a zip archive (no end-of-central-directory "
                       "record)", name);
    const unsigned char *eocd = d + e;
    if (rd16(eocd + 4) != 0 || rd16(eocd + 6) != 0)
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                       "%s: multi-disk zip archives are not supported", name);
    uint64_t n = rd16(eocd + 10), cd_size = rd32(eocd + 12),
             cd_off = rd32(eocd + 16);

    /* ZIP64: a locator just before the EOCD points at the ZIP64 record. */
    if ((size_t)e >= LOC64_LEN && rd32(d + e - LOC64_LEN) == SIG_LOC64) {
        const unsigned char *loc = d + e - LOC64_LEN;
        uint64_t r = rd64(loc + 8);
        if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1)
            return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                           "%s: multi-disk zip archives are not supported", name);
        if (!fits(r, EOCD64_LEN, len) || r > (uint64_t)e - LOC64_LEN ||
            rd32(d + r) != SIG_EOCD64)
            return ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s: ZIP64 end-of-central-directory record missing "
                           "or out of bounds", name);
        const unsigned char *r64 = d + r;
        if (rd32(r64 + 16) != 0 || rd32(r64 + 20) != 0)
            return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                           "%s: multi-disk zip archives are not supported", name);
        n = rd64(r64 + 32);
        cd_size = rd64(r64 + 40);
        cd_off = rd64(r64 + 48);
    } else if (n == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: ZIP64 archive without its ZIP64 locator", name);
    }
    if (!fits(cd_off, cd_size, len) || cd_off + cd_size > (uint64_t)e)
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: central directory (offset %llu, %llu bytes) lies "
                       "outside the archive (%zu bytes) or truncated", name,
                       (unsigned long long)cd_off, (unsigned long long)cd_size,
                       len);
    if (n > cd_size / CENTRAL_LEN)
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: %llu members cannot fit a %llu-byte central "
                       "directory", name, (unsigned long long)n,
                       (unsigned long long)cd_size);

    /* n ≤ cd_size / 46 ≤ len / 46, and the names total at most cd_size. */
    z->entries = calloc(n ? n : 1, sizeof *z->entries);
    z->names = malloc(cd_size + n + 1);
    if (!z->entries || !z->names) {
        ms_zip_close(z);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", name);
    }
    z->data = d;
    z->len = len;
    z->name = name;
    size_t p = cd_off, cd_end = cd_off + cd_size, names_used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fits(p, CENTRAL_LEN, cd_end) || rd32(d + p) != SIG_CENTRAL) {
            return closed(z, ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s: central directory entry %zu truncated or "
                           "missing its signature", name, i));
        }
        const unsigned char *c = d + p;
        size_t nl = rd16(c + 28), el = rd16(c + 30), cl = rd16(c + 32);
        if (!fits(p + CENTRAL_LEN, nl + el + cl, cd_end)) {
            return closed(z, ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s: central directory entry %zu truncated", name, i));
        }
        ms_zip_entry *en = &z->entries[i];
        char *nm = z->names + names_used;
        memcpy(nm, c + CENTRAL_LEN, nl);
        nm[nl] = '\0';
        names_used += nl + 1;
        en->name = nm;
        en->name_len = nl;
        en->method = rd16(c + 10);
        en->crc = rd32(c + 16);
        uint64_t csize = rd32(c + 20), usize = rd32(c + 24), loff = rd32(c + 42);
        if (apply_zip64(c + CENTRAL_LEN + nl, el, &usize, &csize, &loff,
                        rd16(c + 34) == 0xFFFF) != 0) {
            return closed(z, ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s:%s: malformed or missing ZIP64 extra field",
                           name, nm));
        }
        if (rd16(c + 34) != 0 && rd16(c + 34) != 0xFFFF) {
            return closed(z, ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                           "%s:%s: member on another disk", name, nm));
        }
        en->comp_size = csize;
        en->size = usize;
        /* The local header: its own name and extra lengths. */
        if (!fits(loff, LOCAL_LEN, len) || rd32(d + loff) != SIG_LOCAL) {
            return closed(z, ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s:%s: local header at offset %llu missing or "
                           "truncated", name, nm, (unsigned long long)loff));
        }
        const unsigned char *l = d + loff;
        size_t lnl = rd16(l + 26), lel = rd16(l + 28);
        if (!fits(loff + LOCAL_LEN, lnl + lel, len)) {
            return closed(z, ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s:%s: local header truncated", name, nm));
        }
        if (lnl != nl || memcmp(l + LOCAL_LEN, c + CENTRAL_LEN, nl) != 0) {
            return closed(z, ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s:%s: the local header names a different member",
                           name, nm));
        }
        uint64_t doff = loff + LOCAL_LEN + lnl + lel;
        if (!fits(doff, csize, len)) {
            return closed(z, ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s:%s: member data (%llu bytes at offset %llu) runs "
                           "past the end of the archive (%zu bytes)", name, nm,
                           (unsigned long long)csize, (unsigned long long)doff,
                           len));
        }
        en->data_off = (size_t)doff;
        if (rd16(c + 8) & 1u)
            en->method = -1; /* encrypted: refused on extraction */
        p += CENTRAL_LEN + nl + el + cl;
    }
    z->n = n;
    return MLSHIFT_OK;
}

long ms_zip_find(const ms_zip *z, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = z->n; i-- > 0;)
        if (z->entries[i].name_len == nl && memcmp(z->entries[i].name, name, nl) == 0)
            return (long)i;
    return -1;
}

/* Inflates raw DEFLATE src (sn bytes) into dst (exactly dn bytes). */
static int inflate_raw(const unsigned char *src, size_t sn, unsigned char *dst,
                       size_t dn)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -15) != Z_OK)
        return -1;
    const size_t chunk = (size_t)1 << 30;
    size_t in_done = 0, out_done = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (s.avail_in == 0 && in_done < sn) {
            size_t k = sn - in_done < chunk ? sn - in_done : chunk;
            s.next_in = (unsigned char *)(uintptr_t)(src + in_done);
            s.avail_in = (uInt)k;
            in_done += k;
        }
        if (s.avail_out == 0 && out_done < dn) {
            size_t k = dn - out_done < chunk ? dn - out_done : chunk;
            s.next_out = dst + out_done;
            s.avail_out = (uInt)k;
            out_done += k;
        }
        uInt in0 = s.avail_in, out0 = s.avail_out;
        rc = inflate(&s, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR || (rc == Z_OK && s.avail_in == in0 &&
                                  s.avail_out == out0))
            break; /* no progress: input ended early or output is full */
    }
    int ok = rc == Z_STREAM_END && s.avail_out == 0 && out_done == dn &&
             (size_t)s.total_out == dn;
    inflateEnd(&s);
    return ok ? 0 : -1;
}

/* CRC-32 of a mapped region a block at a time, handing each whole block's
 * pages back to the kernel once read (they fault in again from the file
 * if touched later; the mapping is private and read-only). The last,
 * partial block stays: a member smaller than a block (every rMD17 array)
 * is read again at once by its conversion, and releasing it made that
 * fault every page back in (with the TLB flush of each madvise, a fifth of
 * a streamed read, measured). */
static uint32_t crc_dropping(const unsigned char *p, size_t n)
{
    const size_t block = (size_t)1 << 20;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uint32_t crc = (uint32_t)crc32_z(0L, NULL, 0);
    for (size_t o = 0; o < n; o += block) {
        size_t m = n - o < block ? n - o : block;
        crc = (uint32_t)crc32_z(crc, p + o, (z_size_t)m);
        uintptr_t lo = ((uintptr_t)(p + o) + page - 1) & ~(page - 1);
        uintptr_t hi = (uintptr_t)(p + o + m) & ~(page - 1);
        if (hi > lo && m == block)
            madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    return crc;
}

mlshift_status ms_zip_extract(const ms_zip *z, size_t idx,
                              const unsigned char **out, size_t *outlen,
                              unsigned char **owned, mlshift_error *err)
{
    *out = NULL;
    *outlen = 0;
    *owned = NULL;
    if (idx >= z->n)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: no member %zu", z->name, idx);
    const ms_zip_entry *en = &z->entries[idx];
    const unsigned char *src = z->data + en->data_off;
    const unsigned char *res;
    if (en->method == 0) {
        if (en->comp_size != en->size)
            return ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s:%s: stored member with compressed size %llu "
                           "but size %llu", z->name, en->name,
                           (unsigned long long)en->comp_size,
                           (unsigned long long)en->size);
        res = src;
    } else if (en->method == 8) {
        if (en->size / MAX_DEFLATE_RATIO > en->comp_size + 1 ||
            en->size >= SIZE_MAX)
            return ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s:%s: claims %llu bytes from %llu compressed, "
                           "more than DEFLATE can expand", z->name, en->name,
                           (unsigned long long)en->size,
                           (unsigned long long)en->comp_size);
        unsigned char *buf = malloc(en->size ? (size_t)en->size : 1);
        if (!buf)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s:%s: out of memory",
                           z->name, en->name);
        if (inflate_raw(src, (size_t)en->comp_size, buf, (size_t)en->size) != 0) {
            free(buf);
            return ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s:%s: corrupt DEFLATE data (or sizes that do not "
                           "match it)", z->name, en->name);
        }
        *owned = buf;
        res = buf;
    } else if (en->method < 0) {
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                       "%s:%s: encrypted members are not supported", z->name,
                       en->name);
    } else {
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                       "%s:%s: compression method %d is not supported (only "
                       "0 stored and 8 DEFLATE)", z->name, en->name, en->method);
    }
    uint32_t crc;
    if (z->drop_pages && !*owned)
        crc = crc_dropping(res, (size_t)en->size);
    else
        crc = (uint32_t)crc32_z(0L, res, (z_size_t)en->size);
    if (!MS_CHECKSUM_OK(crc, en->crc)) {
        free(*owned);
        *owned = NULL;
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s:%s: CRC-32 mismatch (directory says 0x%08x, data "
                       "gives 0x%08x): corrupt member", z->name, en->name,
                       (unsigned)en->crc, (unsigned)crc);
    }
    *out = res;
    *outlen = (size_t)en->size;
    return MLSHIFT_OK;
}
