/*
 * config: the site configuration, parsed from JSON into one immutable, validated struct.
 *
 * config_load() reads the whole file, parses it with cJSON, checks every key, type, range
 * and cross-reference, and only then hands out a struct config. Nothing is half-loaded:
 * on any error the caller gets no struct and one message of the form
 *
 *     demo.json: devices[2].points[0].address: expected integer 0..65535, got "40001"
 *
 * naming the file (its base name), the JSON path and the reason. Unknown keys, duplicate
 * keys, duplicate ids, dangling references, wrong types and out-of-range numbers are all
 * errors. The struct is read-only after loading and is shared by every thread without
 * locking; all tables are sized here, once, so that nothing downstream allocates per
 * sample.
 *
 * A device may name a profile (profiles_dir/NAME.json, docs/profiles.md): the register
 * map of its instrument model. Profiles are read and checked while the config is, and
 * their errors name the profile's file instead (xnx.json: points.gas.order: ...). What a
 * profile says ends up copied into the struct: each point's decoding in
 * config_point.codec, and the device's status, heartbeat and decimals registers in
 * config_device, so that nothing downstream knows whether a point came from a profile or
 * from the config itself.
 *
 * This module logs nothing; the caller prints the message.
 */
#ifndef PG_CONFIG_H
#define PG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alarm.h"
#include "codec.h"
#include "msg.h"
#include "rules.h"

#define CONFIG_ERR_LEN    512
#define CONFIG_ID_LEN     64 /* ids travel in MQTT topics: [A-Za-z0-9_.-], 1..63 chars */
#define CONFIG_HOST_LEN   256
#define CONFIG_PATH_LEN   512
#define CONFIG_TEXT_LEN   128 /* names and free text such as an area's display name */
#define CONFIG_UNIT_LEN   16
#define CONFIG_REASON_LEN 256 /* an override_reason: 1..255 bytes */

/* Hard limits on every list, so that a config can never ask for unbounded memory. */
#define CONFIG_MAX_AREAS   256
#define CONFIG_MAX_BUSES   64
#define CONFIG_MAX_DEVICES 1024
#define CONFIG_MAX_POINTS  16384

/* A config file larger than this is rejected unread (-EFBIG). */
#define CONFIG_MAX_FILE_BYTES (4u * 1024u * 1024u)

/* Device profiles (hw/profiles/NAME.json), see docs/profiles.md. */
#define CONFIG_MAX_PROFILES       64 /* distinct profiles one config may use */
#define CONFIG_MAX_PROFILE_POINTS 64 /* named registers per profile */
#define CONFIG_MAX_STATUS_SETS    6  /* status rule sets per device */
#define CONFIG_MAX_STATUS_RULES   24 /* rules per set, "values" lists expanded */

enum config_bus_kind {
    CONFIG_BUS_TCP,
    CONFIG_BUS_RTU,
};

enum config_parity {
    CONFIG_PARITY_NONE,
    CONFIG_PARITY_EVEN,
    CONFIG_PARITY_ODD,
};

/*
 * Which Modbus table a point is read from: FC 03 (holding registers), FC 04 (input
 * registers), FC 01 (coils) or FC 02 (discrete inputs). Coils and discrete inputs are
 * single bits: their points are of type CODEC_BIT with bit 0, and the reader stores each
 * bit as a register word of 0 or 1.
 */
enum config_table {
    CONFIG_TABLE_HOLDING,
    CONFIG_TABLE_INPUT,
    CONFIG_TABLE_COIL,
    CONFIG_TABLE_DISCRETE,
};

struct config_area {
    char id[CONFIG_ID_LEN];
    char name[CONFIG_TEXT_LEN];
    /*
     * K-out-of-N confirmation (GB 16808-2025 5.5.1.8), from "vote": the area's own alarm
     * (MSG_LIMIT_VOTE) is active while at least vote.k of its gas points are in level-1
     * alarm or above. voting is false when the area has no "vote".
     */
    bool voting;
    struct rules_vote_cfg vote;
    struct alarm_config vote_alarm; /* P1, latching, not shelvable unless configured */
};

/*
 * Quarantine of a device that stops answering, per bus: after `failures` consecutive
 * failed polls the device is skipped and probed once per backoff period, which starts at
 * backoff_min_ms and doubles up to backoff_max_ms. A dead device therefore costs its bus
 * at most one timeout per backoff period.
 */
struct config_quarantine {
    uint32_t failures;       /* 1..100, default 3 */
    uint32_t backoff_min_ms; /* 100..3600000, default 2000 */
    uint32_t backoff_max_ms; /* backoff_min_ms..3600000, default 60000 */
};

struct config_bus {
    char id[CONFIG_ID_LEN];
    enum config_bus_kind kind;

    /* Modbus TCP */
    char host[CONFIG_HOST_LEN];  /* IPv4/IPv6 literal or host name */
    uint16_t port;               /* 1..65535 */
    uint32_t connect_timeout_ms; /* 100..60000, default 2000 */
    uint32_t reconnect_max_ms;   /* 100..600000, default 30000: backoff cap */
    /*
     * Link watchdog: no successful transaction on an open connection for this long means
     * the connection is half-open (a cable pulled behind a switch); close and reconnect.
     * 0 disables it; 1000..3600000, default 10000.
     */
    uint32_t watchdog_ms;

    /* Modbus RTU (serial) */
    char device[CONFIG_PATH_LEN]; /* e.g. /dev/ttyS1 or /dev/serial/by-path/... */
    uint32_t baud;                /* 1200..115200, default 9600 */
    enum config_parity parity;    /* default even (Modbus default 8E1) */
    uint8_t data_bits;            /* 7 or 8, default 8 */
    uint8_t stop_bits;            /* 1 or 2, default 1 */
    bool rs485;                   /* set RS-485 mode with TIOCSRS485, default false */
    uint32_t rts_delay_before_us; /* 0..100000 RS-485 RTS lead time, default 0 */
    uint32_t rts_delay_after_us;  /* 0..100000 RS-485 RTS hold time, default 0 */

    /* Both */
    uint32_t response_timeout_ms; /* 10..10000, default 500 */
    uint32_t byte_timeout_ms;     /* 0 (whole reply within response timeout), 1..1000 */
    uint16_t max_gap; /* 0..64 registers read across to save a request, default 8 */
    struct config_quarantine quarantine;
    /*
     * After this long with no good read, all of a device's points get quality comm-loss
     * even while it is quarantined; 100..3600000, default 5000.
     */
    uint32_t comm_loss_after_ms;
};

/* A high limit with a deadband: active at value >= setpoint, clear below setpoint -
 * deadband. */
struct config_limit {
    bool enabled;
    double setpoint; /* finite */
    double deadband; /* finite, >= 0 */
};

/*
 * One site point: a value read from a device, with its id, area and limits. Its register
 * and decoding come either from the device's profile (the profile point named by `use`)
 * or from the point's own keys in the site config.
 */
struct config_point {
    char id[CONFIG_ID_LEN]; /* unique across the whole config */
    size_t device;          /* index into config.devices */
    size_t area;            /* index into config.areas */
    enum config_table table;
    uint16_t address;           /* protocol address (not the 4xxxx number); the value
                                   occupies codec_width(codec.type) registers from here */
    struct codec_point codec;   /* how the words become a value and a quality */
    char unit[CONFIG_UNIT_LEN]; /* engineering unit, e.g. "%LEL"; may be empty */
    char use[CONFIG_ID_LEN];    /* the profile point it was selected from; "" inline */
    uint8_t status_sets; /* bit k set: devices[device].status[k] governs its quality */
    struct config_limit high; /* the H limit, from "high" or "limits.h" */
    uint32_t fault_delay_ms; /* 0..100000, default 10000: bad quality this long = fault */
    /*
     * The point's rules as the RT loop evaluates them: its kind (from "gas"), its limits
     * in file order ("high" first when given), its rate-of-change rule, the fault delay
     * and over_range_high. Resolved and checked with rules_check_point() at load time, so
     * the loop copies it and checks nothing.
     */
    struct rules_point_cfg rules;
    /*
     * Why a signed-off config departs from a standard: "" when the point has no
     * "override_reason". override_check is the enum rules_check it waived, or
     * RULES_CHECK_OK when the reason is given but no check needed it; the daemon should
     * log both at start so that the waiver is on record.
     */
    char override_reason[CONFIG_REASON_LEN];
    uint8_t override_check;
    /*
     * The ISA-18.2 handling of each of the point's alarms, indexed like the rules'
     * conditions: [0 .. rules.n_limits) the limits, then RULES_COND_ROC_RISE,
     * RULES_COND_ROC_FALL and RULES_COND_FAULT. Each starts from alarm_config_default()
     * of its kind (gas level-2 and faults latch and cannot be shelved) and takes the
     * limit's "priority", "latching", "max_shelve_s" and "one_shot_shelve" keys.
     */
    struct alarm_config alarm[RULES_COND_FAULT + 1];
};

/* One register (or coil, or discrete input) a device is read for besides its points. */
struct config_reg {
    enum config_table table;
    uint16_t address;
};

/*
 * A status rule set: the quality a status register gives the points it governs
 * (config_point.status_sets), by codec_status() over rules. A default other than good is
 * the set's last rule, with mask 0, which matches every value.
 */
struct config_status {
    struct config_reg reg;
    size_t n_rules; /* 1..CONFIG_MAX_STATUS_RULES */
    struct codec_status_rule rules[CONFIG_MAX_STATUS_RULES];
};

/*
 * A register (mask 0xFFFF) or a bit of one (mask 1 << bit) that the device changes at
 * least every stale_after_ms; when it does not, all of the device's points are stale.
 */
struct config_heartbeat {
    bool enabled;
    struct config_reg reg;
    uint16_t mask;
    uint32_t stale_after_ms; /* 1000..3600000, at least twice poll_ms */
};

/*
 * The device's test mode (a proof test or a commissioning override): while the masked
 * register is non-zero its values are injected, not measured. They are still evaluated,
 * so the alarm chain can be proven end to end, and every sample and event is flagged
 * test so that nobody mistakes a drill for a leak.
 */
struct config_test_mode {
    bool enabled;
    struct config_reg reg;
    uint16_t mask;
};

struct config_device {
    char id[CONFIG_ID_LEN];
    size_t bus;                   /* index into config.buses */
    uint8_t unit_id;              /* 0..255 on TCP, 1..247 on RTU */
    uint32_t poll_ms;             /* 10..3600000, shorter than the bus's
                                     comm_loss_after_ms */
    uint32_t response_timeout_ms; /* the device's own, else the bus's */
    char profile[CONFIG_ID_LEN];  /* the profile it names; "" for inline points */
    size_t first_point; /* this device's points are points[first_point .. +n_points) */
    size_t n_points;    /* >= 1 */

    /* Registers read alongside the points, each at most once per poll. */
    size_t n_status;
    struct config_status status[CONFIG_MAX_STATUS_SETS];
    struct config_heartbeat heartbeat;
    struct config_test_mode test_mode;
    bool has_decimals;          /* points with codec.decimals_reg divide by 10^this */
    struct config_reg decimals; /* the decimal-places register, 0..6 */
};

/* One officer who may command alarms, with the rights the officer holds. */
struct config_officer {
    char id[MSG_USER_LEN]; /* [A-Za-z0-9_.@-], 1..31 bytes */
    unsigned rights;       /* ALARM_RIGHT_* from "rights": "ack", "shelve", "service" */
};

#define CONFIG_MAX_OFFICERS 256
#define CONFIG_MAX_OUTPUTS  16

/* What a relay announces. */
enum config_output_role {
    CONFIG_OUTPUT_BEACON, /* on while a matching alarm is on the active list */
    CONFIG_OUTPUT_SIREN,  /* on while a matching alarm is unacknowledged, until silenced;
                             a new alarm sounds it again (GB 16808 5.5.1.6) */
};

enum config_output_backend {
    CONFIG_OUTPUTS_GPIO, /* the Linux GPIO character device, through libgpiod */
    CONFIG_OUTPUTS_SIM,  /* a file that records every change, for tests and demos */
};

/* One relay output of the board, and the alarms that drive it. */
struct config_output {
    char id[CONFIG_ID_LEN]; /* the board's output id, e.g. "beacon-1" */
    uint8_t role;           /* enum config_output_role */
    uint8_t priorities;     /* bit p (1..4) set: alarms of priority p drive it */
    bool all_areas;         /* every area drives it; else areas[] below */
    bool test;              /* test-flagged alarms drive it too (default false) */
    uint64_t areas[CONFIG_MAX_AREAS / 64]; /* bit a set: area index a drives it */
    char chip[CONFIG_PATH_LEN];            /* from the board: GPIO chip name or path */
    uint32_t line;                         /* from the board: line offset on the chip */
    bool active_low;                       /* from the board */
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

    /* Where profiles were looked up, resolved against the config file's directory. */
    char profiles_dir[CONFIG_PATH_LEN];

    struct {
        char uri[CONFIG_HOST_LEN];     /* tcp://host:port or ssl://host:port; required */
        char client_id[CONFIG_ID_LEN]; /* default: gateway.id */
        char topic_prefix[CONFIG_TEXT_LEN]; /* default: "parkguard/<site>/<gateway id>" */
        uint32_t keepalive_s;               /* 5..3600, default 30 */
        uint32_t connect_timeout_s;         /* 1..120, default 10 */
    } mqtt;

    /* The local command socket for parkguardctl, see docs/control.md. */
    struct {
        char socket[CONFIG_PATH_LEN]; /* "" = no socket */
        char group[CONFIG_ID_LEN];    /* the socket's group; "" = the daemon's */
        size_t n_officers;
        struct config_officer *officers;
    } control;

    /* Local outputs: the board's relays, see docs/outputs.md. n == 0: none. */
    struct {
        char board[CONFIG_ID_LEN]; /* hw/boards/<board>.json */
        char boards_dir[CONFIG_PATH_LEN];
        uint8_t backend; /* enum config_output_backend */
        char sim_path[CONFIG_PATH_LEN];
        size_t n;
        struct config_output out[CONFIG_MAX_OUTPUTS];
    } outputs;

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
 * The same for a config held in memory; name stands in for the file name in messages,
 * and its directory is where a relative profiles_dir (and the default ../hw/profiles)
 * is resolved from. Profiles are still read from disk. Unit tests use it to check a
 * corpus of malformed configs.
 */
int config_parse(const char *name, const char *text, size_t len, struct config **out,
                 char *err, size_t err_len);

/* Release a config. config_free(NULL) does nothing. */
void config_free(struct config *cfg);

/*
 * Whether s is a well-formed officer id: [A-Za-z0-9_.@-], 1 .. MSG_USER_LEN - 1 bytes.
 * Officer ids are journalled with every command and travel in events.
 */
bool config_officer_id_valid(const char *s);

/* Index of the point with this id, or -ENOENT. */
long config_point_index(const struct config *cfg, const char *id);

#endif
