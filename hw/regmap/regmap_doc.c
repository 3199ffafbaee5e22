/*
 * regmap_doc: renders regmap.def into the Markdown tables of docs/firmware.md, so that
 * the commissioning documentation cannot drift from the map the firmware and the gateway
 * compile.
 *
 *   regmap_doc                 print the tables
 *   regmap_doc --check FILE    exit 1 unless FILE holds exactly these tables between the
 *                              markers <!-- regmap:begin --> and <!-- regmap:end -->
 *   regmap_doc --update FILE   rewrite that region of FILE in place
 *
 * A host tool: it uses stdio, unlike the rest of hw/regmap.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regmap.h"

#define DOC_BEGIN "<!-- regmap:begin -->\n"
#define DOC_END   "<!-- regmap:end -->\n"
#define DOC_MAX   (256 * 1024)

struct buf {
    char data[DOC_MAX];
    size_t len;
    int overflow;
};

static void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, sizeof(b->data) - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(b->data) - b->len) {
        b->overflow = 1;
        return;
    }
    b->len += (size_t)n;
}

static const char *type_name(enum regmap_type t)
{
    switch (t) {
    case REGMAP_TYPE_U16:
        return "uint16";
    case REGMAP_TYPE_BITS16:
        return "bits16";
    case REGMAP_TYPE_F32:
        return "float32 ABCD";
    }
    return "?";
}

static void render(struct buf *b)
{
    unsigned next = 0;

    buf_printf(b,
               "Map version %d, %u holding registers (0..%u); input registers mirror "
               "them.\n\n",
               REGMAP_VERSION, (unsigned)REGMAP_HOLDING_COUNT,
               (unsigned)REGMAP_HOLDING_COUNT - 1);
    buf_printf(b,
               "| address | name | type | access | scale | unit | write range | meaning "
               "|\n");
    buf_printf(b, "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < REGMAP_ID_COUNT; i++) {
        const struct regmap_reg *r = &regmap_regs[i];
        char addr[16], range[32];

        if (r->address > next)
            buf_printf(b, "| %u..%u | reserved | | R | | | | reads 0, refuses writes |\n",
                       next, (unsigned)r->address - 1);
        if (r->width > 1)
            snprintf(addr, sizeof(addr), "%u..%u", (unsigned)r->address,
                     (unsigned)(r->address + r->width - 1));
        else
            snprintf(addr, sizeof(addr), "%u", (unsigned)r->address);
        if (r->access == REGMAP_ACCESS_RW)
            snprintf(range, sizeof(range), "%u..%u", (unsigned)r->min, (unsigned)r->max);
        else
            snprintf(range, sizeof(range), "-");
        buf_printf(b, "| %s | `%s` | %s | %s | %g | %s | %s | %s |\n", addr, r->name,
                   type_name(r->type), r->access == REGMAP_ACCESS_RW ? "RW" : "R",
                   r->scale, r->unit[0] != '\0' ? r->unit : "-", range, r->doc);
        next = (unsigned)r->address + r->width;
    }

    buf_printf(b,
               "\nStatus word (register %d):\n\n| bit | name | meaning |\n"
               "| --- | --- | --- |\n",
               REGMAP_ADDR_STATUS);
    for (size_t i = 0; i < regmap_status_bit_count; i++)
        buf_printf(b, "| %u | `%s` | %s |\n", regmap_status_bits[i].value,
                   regmap_status_bits[i].name, regmap_status_bits[i].doc);

    buf_printf(b,
               "\nFault codes (register %d):\n\n| code | name | meaning |\n"
               "| --- | --- | --- |\n",
               REGMAP_ADDR_FAULT_CODE);
    for (size_t i = 0; i < regmap_fault_count; i++)
        buf_printf(b, "| %u | `%s` | %s |\n", regmap_faults[i].value,
                   regmap_faults[i].name, regmap_faults[i].doc);

    buf_printf(b,
               "\nUnits codes (register %d):\n\n| code | name | label | meaning |\n"
               "| --- | --- | --- | --- |\n",
               REGMAP_ADDR_UNITS);
    for (size_t i = 0; i < regmap_unit_count; i++)
        buf_printf(b, "| %u | `%s` | %s | %s |\n", regmap_units[i].value,
                   regmap_units[i].name, regmap_units[i].label, regmap_units[i].doc);
}

/* Read a whole file into b. Returns 0 or a negative errno value. */
static int read_file(const char *path, struct buf *b)
{
    FILE *f = fopen(path, "r");
    int rc = 0;

    if (f == NULL)
        return -errno;
    b->len = fread(b->data, 1, sizeof(b->data) - 1, f);
    if (ferror(f)) {
        rc = -EIO;
        goto out;
    }
    if (!feof(f)) {
        rc = -EFBIG;
        goto out;
    }
    b->data[b->len] = '\0';
out:
    fclose(f);
    return rc;
}

static struct buf doc, file, out;

int main(int argc, char **argv)
{
    const char *begin, *end;
    int check;
    int rc;

    render(&doc);
    if (doc.overflow) {
        fprintf(stderr, "regmap_doc: tables too large\n");
        return 2;
    }
    if (argc == 1) {
        fwrite(doc.data, 1, doc.len, stdout);
        return 0;
    }
    if (argc != 3 ||
        (strcmp(argv[1], "--check") != 0 && strcmp(argv[1], "--update") != 0)) {
        fprintf(stderr, "usage: regmap_doc [--check FILE | --update FILE]\n");
        return 2;
    }
    check = strcmp(argv[1], "--check") == 0;

    rc = read_file(argv[2], &file);
    if (rc < 0) {
        fprintf(stderr, "regmap_doc: %s: %s\n", argv[2], strerror(-rc));
        return 2;
    }
    begin = strstr(file.data, DOC_BEGIN);
    end = begin != NULL ? strstr(begin, DOC_END) : NULL;
    if (begin == NULL || end == NULL) {
        fprintf(stderr, "regmap_doc: %s: no %s ... %s region\n", argv[2], "regmap:begin",
                "regmap:end");
        return 2;
    }
    begin += strlen(DOC_BEGIN);

    if (check) {
        if ((size_t)(end - begin) == doc.len && memcmp(begin, doc.data, doc.len) == 0)
            return 0;
        fprintf(stderr,
                "regmap_doc: %s is out of date with hw/regmap/regmap.def; run "
                "regmap_doc --update %s\n",
                argv[2], argv[2]);
        return 1;
    }

    buf_printf(&out, "%.*s%s%s", (int)(begin - file.data), file.data, doc.data, end);
    if (out.overflow) {
        fprintf(stderr, "regmap_doc: %s: too large\n", argv[2]);
        return 2;
    }
    {
        FILE *f = fopen(argv[2], "w");

        if (f == NULL || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
            fprintf(stderr, "regmap_doc: %s: cannot write\n", argv[2]);
            return 2;
        }
    }
    return 0;
}
