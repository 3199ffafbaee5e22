/*
 * config: the site configuration, parsed from JSON into one immutable, validated struct.
 *
 * config_load() reads the whole file, parses it with cJSON, checks every key, type, range
 * and cross-reference, and only then hands out a struct config. Nothing is half-loaded: on
 * any error the caller gets no struct and one message of the form
 *
 *     demo.json: devices[2].points[0].address: expected integer 0..65535, got "40001"
 *
 * naming the file (its base name), the JSON path and the reason. Unknown keys, duplicate
 * keys, duplicate ids, dangling references, wrong types and out-of-range numbers are all
 * errors. The struct is read-only after loading and is shared by every thread without
 * locking; all tables are sized here, once, so that nothing downstream allocates per sample.
 *
 * This module logs nothing; the caller prints the message.
 */
#ifndef PG_CONFIG_H
#define PG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERR_LEN  512
#define CONFIG_ID_LEN   64  /* ids travel in MQTT topics: [A-Za-z0-9_.-], 1..63 chars */
#define CONFIG_HOST_LEN 256
#define CONFIG_PATH_LEN 512
#define CONFIG_TEXT_LEN 128 /* names and free text such as an area's display name */
#define CONFIG_UNIT_LEN 16

/* Hard limits on every list, so that a config can never ask for unbounded memory. */
#define CONFIG_MAX_AREAS   256
#define CONFIG_MAX_BUSES   64
#define CONFIG_MAX_DEVICES 1024
#define CONFIG_MAX_POINTS  16384

/* A config file larger than this is rejected unread (-EFBIG). */
#define CONFIG_MAX_FILE_BYTES (4u * 1024u * 1024u)

enum config_bus_kind {
    CONFIG_BUS_TCP,
};

/* Which Modbus table a point is read from: FC 03 (holding) or FC 04 (input). */
enum config_table {
    CONFIG_TABLE_HOLDING,
    CONFIG_TABLE_INPUT,
};

/* Register encoding. Wider types and word orders arrive with the acquisition engine. */
enum config_regtype {
    CONFIG_REG_UINT16,
    CONFIG_REG_INT16,
};

struct config_area {
    char id[CONFIG_ID_LEN];
    char name[CONFIG_TEXT_LEN];
};

struct config_bus {
    char id[CONFIG_ID_LEN];
    enum config_bus_kind kind;
    char host[CONFIG_HOST_LEN]; /* IPv4/IPv6 literal or host name */
    uint16_t port;              /* 1..65535 */
    uint32_t connect_timeout_ms;  /* 100..60000, default 2000 */
    uint32_t response_timeout_ms; /* 10..10000, default 500 */
    uint32_t reconnect_max_ms;    /* 100..600000, default 30000: backoff cap */
};

/* A high limit with a deadband: active at value >= setpoint, clear below setpoint - deadband. */
struct config_limit {
    bool enabled;
    double setpoint; /* finite */
    double deadband; /* finite, >= 0 */
};

struct config_point {
    char id[CONFIG_ID_LEN];   /* unique across the whole config */
    size_t device;            /* index into config.devices */
    size_t area;              /* index into config.areas */
    enum config_table table;
    uint16_t address;         /* 0..65535, protocol address (not the 4xxxx number) */
    enum config_regtype type;
    double scale;             /* finite, non-zero; default 1 */
    double offset;            /* finite; default 0 */
    char unit[CONFIG_UNIT_LEN]; /* engineering unit, e.g. "%LEL"; may be empty */
    struct config_limit high;
};

struct config_device {
    char id[CONFIG_ID_LEN];
    size_t bus;          /* index into config.buses */
    uint8_t unit_id;     /* 0..255 on TCP */
    uint32_t poll_ms;    /* 10..3600000 */
    size_t first_point; /* this device's points are points[first_point .. +n_points) */
    size_t n_points;     /* >= 1 */
};

struct config {
    char path[CONFIG_PATH_LEN]; /* the file it came from, as given */

    struct {
        char id[CONFIG_ID_LEN];
        char site[CONFIG_ID_LEN];
    } gateway;

    struct {
        uint32_t period_ms; /* 1..1000, default 10 */
        int priority;       /* SCHED_FIFO priority 1..98, default 49 */
        int cpu;            /* -1 (no pinning, default) or 0..1023 */
    } rt;

    struct {
        char path[CONFIG_PATH_LEN]; /* SQLite file; required */
    } store;

    struct {
        char uri[CONFIG_HOST_LEN];     /* tcp://host:port or ssl://host:port; required */
        char client_id[CONFIG_ID_LEN]; /* default: gateway.id */
        char topic_prefix[CONFIG_TEXT_LEN]; /* default: "parkguard/<site>/<gateway id>" */
        uint32_t keepalive_s;          /* 5..3600, default 30 */
        uint32_t connect_timeout_s;    /* 1..120, default 10 */
    } mqtt;

    size_t n_areas;
    struct config_area *areas;
    size_t n_buses;
    struct config_bus *buses;
    size_t n_devices;
    struct config_device *devices;
    size_t n_points;
    struct config_point *points; /* grouped by device, in file order */
};

/*
 * Load and validate the config at path. On success returns 0 and stores a new config in
 * *out, which the caller releases with config_free(). On failure returns a negative errno
 * (-ENOENT/-EACCES/-EISDIR/-EIO reading the file, -EFBIG above CONFIG_MAX_FILE_BYTES,
 * -EINVAL for any content error, -ENOMEM), leaves *out NULL and writes one line of text,
 * without a trailing newline, into err.
 */
int config_load(const char *path, struct config **out, char *err, size_t err_len);

/*
 * The same for a config held in memory; name stands in for the file name in messages.
 * Unit tests use it to check a corpus of malformed configs without touching the disk.
 */
int config_parse(const char *name, const char *text, size_t len, struct config **out,
                 char *err, size_t err_len);

/* Release a config. config_free(NULL) does nothing. */
void config_free(struct config *cfg);

/* Index of the point with this id, or -ENOENT. */
long config_point_index(const struct config *cfg, const char *id);

#endif
