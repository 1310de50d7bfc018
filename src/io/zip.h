/* SPDX-License-Identifier: MIT */
/* A minimal reader for ZIP archives held in memory: what numpy's npz files
 * need and nothing more. Supports the end-of-central-directory record with
 * an archive comment, ZIP64 (EOCD locator and record, the 0x0001 extra field
 * in central entries), local headers with their own name and extra lengths,
 * and the methods 0 (stored) and 8 (DEFLATE, through zlib). Every member's
 * CRC-32 is verified on extraction. Every offset and size is checked against
 * the buffer, so a truncated or hostile archive is an error, never a read
 * out of bounds. Not part of the public API. */
#ifndef MLSHIFT_ZIP_H
#define MLSHIFT_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "mlshift.h"

/* One member, from its central directory entry; data_off is resolved from
 * the member's local header when the archive is opened. */
typedef struct ms_zip_entry {
    const char *name;       /* NUL-terminated copy of the member name */
    size_t name_len;        /* bytes, without the NUL */
    int method;             /* 0 stored, 8 DEFLATE (others rejected on extract) */
    uint32_t crc;           /* CRC-32 of the uncompressed bytes */
    uint64_t comp_size;     /* bytes of member data in the archive */
    uint64_t size;          /* bytes once uncompressed */
    size_t data_off;        /* first byte of member data in the buffer */
} ms_zip_entry;

/* An opened archive: a view of the caller's buffer (which must outlive it)
 * plus the table of members. n = number of members. */
typedef struct ms_zip {
    const unsigned char *data;  /* (len,) the whole archive */
    size_t len;
    const char *name;           /* labels errors: "NAME: …" */
    size_t n;                   /* members */
    ms_zip_entry *entries;      /* (n,) */
    char *names;                /* the n NUL-terminated names, one block */
    int drop_pages;             /* data is a read-only file mapping: a stored
                                   member's CRC is checked block by block and
                                   each block's pages are released after
                                   (madvise), so extraction keeps no more
                                   than a block resident (set after open) */
} ms_zip;

/* Parses the archive's directory. On failure *z is left empty (safe to
 * ms_zip_close) and err says what is wrong. `name` must outlive z. */
mlshift_status ms_zip_open(ms_zip *z, const unsigned char *data, size_t len,
                           const char *name, mlshift_error *err);
void ms_zip_close(ms_zip *z);

/* Index of the member called `name` (the last one if repeated, as Python's
 * zipfile does), or -1. */
long ms_zip_find(const ms_zip *z, const char *name);

/* Extracts member idx and verifies its CRC-32. *out receives the bytes
 * (*outlen of them). A stored member is returned as a pointer into the
 * archive (*owned = NULL); a deflated one in a malloc'ed buffer that is
 * also returned in *owned for the caller to free. */
mlshift_status ms_zip_extract(const ms_zip *z, size_t idx,
                              const unsigned char **out, size_t *outlen,
                              unsigned char **owned, mlshift_error *err);

#endif /* MLSHIFT_ZIP_H */
