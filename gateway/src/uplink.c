#include "uplink.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "log.h"
#include "msg.h"
#include "payload.h"
#include "pgtime.h"

/*
 * Messages we keep in flight. Small on purpose: the outbox decides what is pending, not
 * Paho's memory, and a small window bounds what must be re-sent after a reconnect.
 */
#define UPLINK_INFLIGHT    32
#define UPLINK_BACKOFF_MIN (500 * PGTIME_NS_PER_MS)
#define UPLINK_BACKOFF_MAX (30 * PGTIME_NS_PER_S)
#define UPLINK_COMPLETIONS 256

enum slot_state {
    SLOT_FREE,
    SLOT_QUEUED, /* waiting to be (re)sent */
    SLOT_SENT,   /* handed to Paho, waiting for PUBACK */
    SLOT_ACKED,  /* broker has it; waiting for room in the ack ring */
};

struct slot {
    enum slot_state state;
    MQTTAsync_token token;
    bool resend;
    struct msg_outbox msg;
};

enum link_state {
    LINK_DOWN,
    LINK_CONNECTING,
    LINK_UP,
};

/* What a Paho callback reports to the uplink thread. */
struct completion {
    enum {
        DONE_PUBLISH_OK,
        DONE_PUBLISH_FAIL,
        DONE_CONNECT_OK,
        DONE_CONNECT_FAIL,
        DONE_LOST,
        DONE_DISCONNECTED,
    } what;
    MQTTAsync_token token;
    int code;
    char text[96]; /* Paho's message, copied: its buffer dies with the callback */
};

struct uplink {
    const struct config *cfg;
    struct ring *outbox, *acks;
    int ack_wake_fd;
    MQTTAsync client;
    char status_topic[MSG_TOPIC_LEN];
    char metrics_topic[MSG_TOPIC_LEN];

    struct slot slots[UPLINK_INFLIGHT];
    enum link_state link;
    int64_t backoff_ns;
    int64_t retry_at;
    MQTTAsync_token status_token;
    bool status_pending;

    pthread_t thread;
    bool started;

    /* Shared with Paho's threads: everything below is guarded by lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct completion done[UPLINK_COMPLETIONS];
    size_t n_done;
    bool overflow; /* completions lost: resynchronise by re-sending all in flight */
    bool kicked;
    bool stopping;
    char *metrics; /* latest metrics document not yet published */
    int64_t drain_deadline;

    _Atomic bool connected;
    _Atomic uint64_t n_connects, n_published, n_resent;
};

static void post(struct uplink *up, const struct completion *c)
{
    (void)pthread_mutex_lock(&up->lock);
    if (up->n_done < UPLINK_COMPLETIONS)
        up->done[up->n_done++] = *c;
    else
        up->overflow = true;
    (void)pthread_cond_signal(&up->cond);
    (void)pthread_mutex_unlock(&up->lock);
}

/* ---- Paho callbacks: record and signal, nothing else ---- */

static void on_publish_ok(void *ctx, MQTTAsync_successData5 *r)
{
    struct completion c = {.what = DONE_PUBLISH_OK, .token = r->token};

    /* An MQTT v5 PUBACK can carry a refusal (reason code >= 0x80): not delivered. */
    if (r->reasonCode >= 0x80) {
        c.what = DONE_PUBLISH_FAIL;
        c.code = r->reasonCode;
    }
    post(ctx, &c);
}

static void on_publish_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    struct completion c = {.what = DONE_PUBLISH_FAIL, .token = r->token, .code = r->code};

    post(ctx, &c);
}

static void on_connect_ok(void *ctx, MQTTAsync_successData5 *r)
{
    struct completion c = {.what = DONE_CONNECT_OK};

    (void)r;
    post(ctx, &c);
}

static void on_connect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    struct completion c = {.what = DONE_CONNECT_FAIL, .code = r != NULL ? r->code : -1};

    if (r != NULL && r->message != NULL)
        (void)snprintf(c.text, sizeof(c.text), "%s", r->message);
    else if (r != NULL && r->reasonCode != 0)
        (void)snprintf(c.text, sizeof(c.text), "%s",
                       MQTTReasonCode_toString(r->reasonCode));
    post(ctx, &c);
}

static void on_lost(void *ctx, char *cause)
{
    struct completion c = {.what = DONE_LOST};

    (void)cause;
    post(ctx, &c);
}

static void on_disconnected(void *ctx, MQTTAsync_successData5 *r)
{
    struct completion c = {.what = DONE_DISCONNECTED};

    (void)r;
    post(ctx, &c);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    /* Commands arrive in a later version; until then nothing is subscribed. */
    (void)ctx;
    (void)topic_len;
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

/* ---- the uplink thread ---- */

struct uplink *uplink_new(const struct config *cfg, struct ring *outbox,
                          struct ring *acks, int ack_wake_fd)
{
    MQTTAsync_createOptions copts = MQTTAsync_createOptions_initializer5;
    struct uplink *up = calloc(1, sizeof(*up));
    int rc;

    if (up == NULL)
        return NULL;
    up->cfg = cfg;
    up->outbox = outbox;
    up->acks = acks;
    up->ack_wake_fd = ack_wake_fd;
    up->backoff_ns = UPLINK_BACKOFF_MIN;
    (void)pthread_mutex_init(&up->lock, NULL);
    pgtime_cond_init(&up->cond);
    if (payload_status_topic(cfg, up->status_topic, sizeof(up->status_topic)) < 0 ||
        payload_metrics_topic(cfg, up->metrics_topic, sizeof(up->metrics_topic)) < 0)
        goto fail_inval;
    /*
     * No Paho persistence: the SQLite outbox is the only record of what is pending, so a
     * second, unsynced copy on disk could only disagree with it.
     */
    rc = MQTTAsync_createWithOptions(&up->client, cfg->mqtt.uri, cfg->mqtt.client_id,
                                     MQTTCLIENT_PERSISTENCE_NONE, NULL, &copts);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("uplink: cannot create MQTT client for %s: %s", cfg->mqtt.uri,
                  MQTTAsync_strerror(rc));
        goto fail_inval;
    }
    rc = MQTTAsync_setCallbacks(up->client, up, on_lost, on_message, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("uplink: cannot set callbacks: %s", MQTTAsync_strerror(rc));
        goto fail_inval;
    }
    return up;

fail_inval:
    uplink_free(up);
    errno = EINVAL;
    return NULL;
}

void uplink_free(struct uplink *up)
{
    if (up == NULL)
        return;
    uplink_stop(up, 0);
    if (up->client != NULL)
        MQTTAsync_destroy(&up->client);
    free(up->metrics);
    (void)pthread_cond_destroy(&up->cond);
    (void)pthread_mutex_destroy(&up->lock);
    free(up);
}

static void start_connect(struct uplink *up)
{
    MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    int rc;

    will.topicName = up->status_topic;
    will.message = "offline";
    will.retained = 1;
    will.qos = 1;
    opts.will = &will;
    opts.keepAliveInterval = (int)up->cfg->mqtt.keepalive_s;
    opts.connectTimeout = (int)up->cfg->mqtt.connect_timeout_s;
    opts.cleanstart = 1;
    opts.maxInflight = UPLINK_INFLIGHT + 2;
    /* Reconnection is ours, with our backoff, so every reconnect takes the same path. */
    opts.automaticReconnect = 0;
    opts.onSuccess5 = on_connect_ok;
    opts.onFailure5 = on_connect_fail;
    opts.context = up;
    if (strncmp(up->cfg->mqtt.uri, "ssl://", 6) == 0 ||
        strncmp(up->cfg->mqtt.uri, "mqtts://", 8) == 0)
        opts.ssl = &ssl;
    rc = MQTTAsync_connect(up->client, &opts);
    if (rc != MQTTASYNC_SUCCESS) {
        struct completion c = {.what = DONE_CONNECT_FAIL, .code = rc};

        post(up, &c);
    }
    up->link = LINK_CONNECTING;
}

static int send_msg(struct uplink *up, const char *topic, const void *payload, int len,
                    int qos, bool retained, MQTTAsync_token *token)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTAsync_message m = MQTTAsync_message_initializer;
    int rc;

    m.payload = (void *)(uintptr_t)payload;
    m.payloadlen = len;
    m.qos = qos;
    m.retained = retained;
    ro.onSuccess5 = on_publish_ok;
    ro.onFailure5 = on_publish_fail;
    ro.context = up;
    rc = MQTTAsync_sendMessage(up->client, topic, &m, &ro);
    *token = ro.token;
    return rc;
}

static void requeue_all(struct uplink *up)
{
    for (size_t i = 0; i < UPLINK_INFLIGHT; i++) {
        if (up->slots[i].state == SLOT_SENT) {
            up->slots[i].state = SLOT_QUEUED;
            up->slots[i].resend = true;
            up->slots[i].token = 0;
        }
    }
    up->status_pending = false;
}

static void link_down(struct uplink *up, const char *why, int code)
{
    int64_t now = pgtime_mono_ns();

    if (up->link == LINK_UP)
        log_warn("uplink: connection to %s lost (%s); reconnecting", up->cfg->mqtt.uri,
                 why);
    else if (up->backoff_ns == UPLINK_BACKOFF_MIN)
        log_warn(
            "uplink: cannot connect to %s: %s (%d); retrying with backoff up to %lld s",
            up->cfg->mqtt.uri, why, code,
            (long long)(UPLINK_BACKOFF_MAX / PGTIME_NS_PER_S));
    atomic_store(&up->connected, false);
    up->link = LINK_DOWN;
    requeue_all(up);
    up->retry_at = now + up->backoff_ns;
    up->backoff_ns =
        up->backoff_ns * 2 > UPLINK_BACKOFF_MAX ? UPLINK_BACKOFF_MAX : up->backoff_ns * 2;
}

static struct slot *slot_by_token(struct uplink *up, MQTTAsync_token t)
{
    for (size_t i = 0; i < UPLINK_INFLIGHT; i++)
        if (up->slots[i].state == SLOT_SENT && up->slots[i].token == t)
            return &up->slots[i];
    return NULL;
}

static void handle(struct uplink *up, const struct completion *c)
{
    struct slot *s;

    switch (c->what) {
    case DONE_CONNECT_OK:
        up->link = LINK_UP;
        up->backoff_ns = UPLINK_BACKOFF_MIN;
        atomic_store(&up->connected, true);
        atomic_fetch_add(&up->n_connects, 1);
        log_info("uplink: connected to %s", up->cfg->mqtt.uri);
        /* Announce ourselves first; anything in flight before the drop goes again. */
        requeue_all(up);
        if (send_msg(up, up->status_topic, "online", 6, 1, true, &up->status_token) ==
            MQTTASYNC_SUCCESS)
            up->status_pending = true;
        break;
    case DONE_CONNECT_FAIL:
        link_down(up, c->text[0] != '\0' ? c->text : MQTTAsync_strerror(c->code),
                  c->code);
        break;
    case DONE_LOST:
        link_down(up, "connection lost", 0);
        break;
    case DONE_DISCONNECTED:
        break;
    case DONE_PUBLISH_OK:
        if (up->status_pending && c->token == up->status_token) {
            up->status_pending = false;
            break;
        }
        s = slot_by_token(up, c->token);
        if (s != NULL) {
            s->state = SLOT_ACKED;
            atomic_fetch_add(&up->n_published, 1);
        }
        break;
    case DONE_PUBLISH_FAIL:
        s = slot_by_token(up, c->token);
        if (s != NULL) {
            log_warn("uplink: publish of outbox row %lld failed (%d); will retry",
                     (long long)s->msg.id, c->code);
            s->state = SLOT_QUEUED;
            s->resend = true;
        }
        break;
    }
}

/* Report acknowledged rows to the recorder; a full ack ring just waits for next time. */
static void report_acks(struct uplink *up)
{
    bool pushed = false;

    for (size_t i = 0; i < UPLINK_INFLIGHT; i++) {
        struct slot *s = &up->slots[i];

        if (s->state != SLOT_ACKED)
            continue;
        if (!ring_push(up->acks, &s->msg.id))
            break;
        s->state = SLOT_FREE;
        pushed = true;
    }
    if (pushed && up->ack_wake_fd >= 0) {
        uint64_t one = 1;

        (void)!write(up->ack_wake_fd, &one, sizeof(one));
    }
}

static void fill_and_send(struct uplink *up)
{
    /* Refill free slots from the recorder's window of the outbox. */
    for (size_t i = 0; i < UPLINK_INFLIGHT; i++) {
        struct slot *s = &up->slots[i];

        if (s->state != SLOT_FREE)
            continue;
        if (!ring_pop(up->outbox, &s->msg))
            break;
        s->state = SLOT_QUEUED;
        s->resend = false;
    }
    if (up->link != LINK_UP)
        return;
    for (size_t i = 0; i < UPLINK_INFLIGHT; i++) {
        struct slot *s = &up->slots[i];
        int rc;

        if (s->state != SLOT_QUEUED)
            continue;
        rc = send_msg(up, s->msg.topic, s->msg.payload, s->msg.payload_len, s->msg.qos,
                      s->msg.retained, &s->token);
        if (rc != MQTTASYNC_SUCCESS) {
            /* Not connected after all, or Paho is full: try again on the next pass. */
            break;
        }
        if (s->resend)
            atomic_fetch_add(&up->n_resent, 1);
        s->state = SLOT_SENT;
    }
}

/* Metrics go out at QoS 0 with no completion tracking: the next snapshot supersedes. */
static void send_metrics(struct uplink *up)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTAsync_message m = MQTTAsync_message_initializer;
    char *doc;

    if (up->link != LINK_UP)
        return;
    (void)pthread_mutex_lock(&up->lock);
    doc = up->metrics;
    up->metrics = NULL;
    (void)pthread_mutex_unlock(&up->lock);
    if (doc == NULL)
        return;
    m.payload = doc;
    m.payloadlen = (int)strlen(doc);
    m.qos = 0;
    m.retained = 1;
    (void)MQTTAsync_sendMessage(up->client, up->metrics_topic, &m, &ro);
    /* Paho copies the payload before sendMessage returns. */
    free(doc);
}

void uplink_set_metrics(struct uplink *up, char *json)
{
    char *old;

    (void)pthread_mutex_lock(&up->lock);
    old = up->metrics;
    up->metrics = json;
    up->kicked = true;
    (void)pthread_cond_signal(&up->cond);
    (void)pthread_mutex_unlock(&up->lock);
    free(old);
}

static bool all_idle(struct uplink *up)
{
    if (ring_count(up->outbox) != 0 || up->status_pending)
        return false;
    for (size_t i = 0; i < UPLINK_INFLIGHT; i++)
        if (up->slots[i].state != SLOT_FREE)
            return false;
    return true;
}

/* Publish "offline" (retained) and disconnect; bounded by about two seconds. */
static void say_goodbye(struct uplink *up)
{
    MQTTAsync_disconnectOptions dopts = MQTTAsync_disconnectOptions_initializer5;
    struct timespec deadline;
    int64_t end = pgtime_mono_ns() + 2 * PGTIME_NS_PER_S;
    bool offline_acked = false, disconnected = false;

    if (up->link == LINK_UP) {
        MQTTAsync_token t = 0;

        if (send_msg(up, up->status_topic, "offline", 7, 1, true, &t) ==
            MQTTASYNC_SUCCESS) {
            up->status_token = t;
            up->status_pending = true;
        }
        while (up->status_pending && pgtime_mono_ns() < end) {
            struct completion c;

            (void)pthread_mutex_lock(&up->lock);
            while (up->n_done == 0 && pgtime_mono_ns() < end) {
                deadline = pgtime_mono_after_ms(50);
                (void)pthread_cond_timedwait(&up->cond, &up->lock, &deadline);
            }
            if (up->n_done == 0) {
                (void)pthread_mutex_unlock(&up->lock);
                break;
            }
            c = up->done[0];
            memmove(up->done, up->done + 1, (--up->n_done) * sizeof(up->done[0]));
            (void)pthread_mutex_unlock(&up->lock);
            if (c.what == DONE_PUBLISH_OK && c.token == up->status_token)
                offline_acked = true;
            handle(up, &c);
            if (up->link != LINK_UP)
                break;
        }
        dopts.timeout = 1000;
        dopts.onSuccess5 = on_disconnected;
        dopts.context = up;
        disconnected = MQTTAsync_disconnect(up->client, &dopts) == MQTTASYNC_SUCCESS;
    }
    log_info("uplink: stopped (offline status %s, %s)",
             offline_acked ? "acknowledged by the broker" : "not confirmed",
             disconnected ? "disconnected" : "no connection");
    atomic_store(&up->connected, false);
}

static void *uplink_main(void *arg)
{
    struct uplink *up = arg;
    struct completion batch[UPLINK_COMPLETIONS];

    start_connect(up);
    for (;;) {
        size_t n;
        bool overflow, stopping;
        int64_t drain_deadline;
        struct timespec deadline;

        (void)pthread_mutex_lock(&up->lock);
        if (up->n_done == 0 && !up->kicked && !up->stopping) {
            deadline = pgtime_mono_after_ms(100);
            (void)pthread_cond_timedwait(&up->cond, &up->lock, &deadline);
        }
        n = up->n_done;
        memcpy(batch, up->done, n * sizeof(batch[0]));
        up->n_done = 0;
        overflow = up->overflow;
        up->overflow = false;
        up->kicked = false;
        stopping = up->stopping;
        drain_deadline = up->drain_deadline;
        (void)pthread_mutex_unlock(&up->lock);

        for (size_t i = 0; i < n; i++)
            handle(up, &batch[i]);
        if (overflow)
            requeue_all(up);
        if (up->link == LINK_DOWN && pgtime_mono_ns() >= up->retry_at && !stopping)
            start_connect(up);
        fill_and_send(up);
        report_acks(up);
        send_metrics(up);
        if (stopping && (all_idle(up) || pgtime_mono_ns() >= drain_deadline))
            break;
    }
    say_goodbye(up);
    report_acks(up);
    return NULL;
}

int uplink_start(struct uplink *up)
{
    int rc = pthread_create(&up->thread, NULL, uplink_main, up);

    if (rc != 0)
        return -rc;
    up->started = true;
    return 0;
}

void uplink_wake(void *arg)
{
    struct uplink *up = arg;

    (void)pthread_mutex_lock(&up->lock);
    up->kicked = true;
    (void)pthread_cond_signal(&up->cond);
    (void)pthread_mutex_unlock(&up->lock);
}

void uplink_stop(struct uplink *up, int drain_ms)
{
    if (!up->started)
        return;
    (void)pthread_mutex_lock(&up->lock);
    up->stopping = true;
    up->drain_deadline = pgtime_mono_ns() + (int64_t)drain_ms * PGTIME_NS_PER_MS;
    (void)pthread_cond_signal(&up->cond);
    (void)pthread_mutex_unlock(&up->lock);
    (void)pthread_join(up->thread, NULL);
    up->started = false;
}

void uplink_stats(struct uplink *up, struct uplink_stats *out)
{
    out->connected = atomic_load(&up->connected);
    out->connects = atomic_load(&up->n_connects);
    out->published = atomic_load(&up->n_published);
    out->resent = atomic_load(&up->n_resent);
}
