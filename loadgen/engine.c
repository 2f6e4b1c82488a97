#include "loadgen/engine.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "loadgen/http_parse.h"

enum phase { PH_IDLE, PH_WARMUP, PH_QUIESCE, PH_MEASURE, PH_DRAIN };

typedef struct conn {
    lp_lg_engine *e;
    struct bufferevent *bev;
    bool busy, in_idle;
    lp_lg_response resp;
    int64_t t0;   /* ns: when the request was due (open loop) or sent */
    int window;   /* measurement window it was sent in; -1 outside */
    bool oneoff;  /* probe or GET: ends the loop when done */
    struct event *retry; /* closed loop: the next send after a failed connection */
} conn;

/* What a measurement window gathers. */
typedef struct win_data {
    lp_lg_window w;
    lp_lg_samples samples;
    lp_lg_code_count codes[LP_LG_MAX_CODES];
    int n_codes;
    size_t done, due, late, dropped;
    double max_late_ms;
} win_data;

struct lp_lg_engine {
    struct event_base *base;
    const lp_lg_url *url;
    const lp_lg_requests *reqs;
    size_t next_req;
    conn **conns;
    int n_conns, cap_conns;
    conn **idle;
    int n_idle;
    lp_lg_progress_fn progress;
    void *progress_user;

    const lp_lg_level_config *cfg;
    enum phase phase;
    win_data *win;
    int n_win, cur;
    int64_t window_start, measure_start, last_reply;
    size_t in_flight;
    long sent; /* offline: measured requests sent */
    struct event *tick, *send_timer;
    lp_lg_schedule sched;
    int64_t next_due;
    lp_status fail_status;
    lp_error *fail_err;

    /* one-off request */
    bool oneoff_done;
    int oneoff_status;
    char conn_error[160];
    struct evbuffer *oneoff_body;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timeval to_tv(double seconds) {
    if (seconds < 0) seconds = 0;
    struct timeval tv;
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    return tv;
}

static void add_code(lp_lg_code_count *codes, int *n, int code, size_t count) {
    for (int i = 0; i < *n; i++)
        if (codes[i].code == code) {
            codes[i].count += count;
            return;
        }
    if (*n < LP_LG_MAX_CODES) codes[(*n)++] = (lp_lg_code_count){code, count};
    else codes[LP_LG_MAX_CODES - 1].count += count; /* the last slot absorbs the rest */
}

static void conn_send(conn *c, int64_t t0);
static void on_retry(evutil_socket_t fd, short what, void *arg);
static void level_finish(lp_lg_engine *e);
static void measure_start(lp_lg_engine *e);

static void conn_close(conn *c) {
    if (c->bev) bufferevent_free(c->bev);
    c->bev = NULL;
}

/* A reply (or a failure, code < 0) for the request on c. */
static void conn_done(conn *c, int code) {
    lp_lg_engine *e = c->e;
    int64_t t = now_ns();
    double ms = (double)(t - c->t0) / 1e6;
    c->busy = false;
    e->in_flight--;
    if (code < 0 || !c->resp.keep_alive) conn_close(c);
    if (c->oneoff) {
        c->oneoff = false;
        e->oneoff_done = true;
        e->oneoff_status = code;
        event_base_loopbreak(e->base);
        return;
    }
    bool ok = code >= 200 && code < 300;
    if (c->window >= 0 && c->window < e->n_win) {
        win_data *w = &e->win[c->window];
        w->done++;
        e->last_reply = t;
        if (ok) {
            lp_status st = lp_lg_samples_push(&w->samples, ms, e->fail_err);
            if (st && !e->fail_status) {
                e->fail_status = st;
                event_base_loopbreak(e->base);
            }
        } else {
            add_code(w->codes, &w->n_codes, code, 1);
        }
    }
    if (e->phase == PH_MEASURE && ok && e->cur < e->n_win) {
        e->win[e->cur].w.completed++;
        e->win[e->cur].w.latency_sum += ms;
    }
    const lp_lg_level_config *cfg = e->cfg;
    if (cfg && cfg->total_requests > 0 && e->phase == PH_MEASURE &&
        e->win[0].done >= (size_t)cfg->total_requests) {
        e->win[0].w.seconds = (double)(t - e->window_start) / 1e9;
        e->n_win = 1;
        level_finish(e);
        return;
    }
    if (e->phase == PH_QUIESCE && !e->in_flight) {
        measure_start(e);
        return;
    }
    if (e->phase == PH_DRAIN) {
        if (!e->in_flight) event_base_loopbreak(e->base);
        return;
    }
    if (!cfg || e->phase == PH_IDLE) return;
    if (cfg->open_loop) {
        if (!c->in_idle) {
            c->in_idle = true;
            e->idle[e->n_idle++] = c;
        }
    } else if (e->phase == PH_WARMUP ||
               (e->phase == PH_MEASURE &&
                (cfg->total_requests <= 0 || e->sent < cfg->total_requests))) {
        if (code >= 0) {
            conn_send(c, now_ns());
        } else {
            /* A refused or broken connection is retried after a pause, so a
             * dead server is not hammered (nor the stack recursed into). */
            struct timeval tv = {0, 10000};
            evtimer_add(c->retry, &tv);
        }
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    conn *c = arg;
    lp_lg_engine *e = c->e;
    (void)fd;
    (void)what;
    if (c->busy || !e->cfg) return;
    if (e->phase == PH_WARMUP ||
        (e->phase == PH_MEASURE && (e->cfg->total_requests <= 0 || e->sent < e->cfg->total_requests)))
        conn_send(c, now_ns());
}

static void on_read(struct bufferevent *bev, void *arg) {
    conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (evbuffer_get_length(in)) {
        if (!c->busy) { /* bytes nobody asked for: the stream is out of step */
            conn_close(c);
            return;
        }
        lp_lg_parse_result r = lp_lg_response_feed(&c->resp, in);
        if (r == LP_LG_PARSE_MORE) return;
        if (r == LP_LG_PARSE_ERROR) {
            snprintf(c->e->conn_error, sizeof c->e->conn_error, "%s", c->resp.reason);
            conn_done(c, LP_LG_CODE_CONN);
            return;
        }
        conn_done(c, c->resp.status); /* may close c->bev */
        if (!c->bev) return;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if (c->busy) {
            snprintf(c->e->conn_error, sizeof c->e->conn_error, "no reply within the timeout");
            conn_done(c, LP_LG_CODE_TIMEOUT);
        } else {
            bufferevent_enable(c->bev, EV_READ);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        int errnum = EVUTIL_SOCKET_ERROR();
        if (!c->busy) {
            conn_close(c);
            return;
        }
        if ((what & BEV_EVENT_EOF) && lp_lg_response_eof(&c->resp) == LP_LG_PARSE_OK) {
            conn_done(c, c->resp.status);
            return;
        }
        if (what & BEV_EVENT_ERROR)
            snprintf(c->e->conn_error, sizeof c->e->conn_error, "%s",
                     evutil_socket_error_to_string(errnum));
        else
            snprintf(c->e->conn_error, sizeof c->e->conn_error,
                     "the server closed the connection before replying");
        conn_done(c, LP_LG_CODE_CONN);
    }
}

static bool conn_open(conn *c) {
    lp_lg_engine *e = c->e;
    c->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) return false;
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&e->url->addr,
                                   (int)e->url->addr_len) < 0) {
        snprintf(e->conn_error, sizeof e->conn_error, "%s", strerror(errno));
        conn_close(c);
        return false;
    }
    return true;
}

static void send_bytes(conn *c, const lp_lg_request *r, int64_t t0, struct evbuffer *body) {
    lp_lg_engine *e = c->e;
    c->busy = true;
    c->t0 = t0;
    e->in_flight++;
    lp_lg_response_reset(&c->resp, body);
    if (!c->bev && !conn_open(c)) {
        conn_done(c, LP_LG_CODE_CONN);
        return;
    }
    double timeout = e->cfg ? e->cfg->timeout : 30;
    struct timeval tv = to_tv(timeout);
    bufferevent_set_timeouts(c->bev, &tv, NULL);
    bufferevent_enable(c->bev, EV_READ);
    if (bufferevent_write(c->bev, r->bytes, r->len) < 0) {
        snprintf(e->conn_error, sizeof e->conn_error, "cannot queue the request");
        conn_done(c, LP_LG_CODE_CONN);
    }
}

static void conn_send(conn *c, int64_t t0) {
    lp_lg_engine *e = c->e;
    const lp_lg_request *r = &e->reqs->r[e->next_req];
    e->next_req = (e->next_req + 1) % e->reqs->n;
    c->window = e->phase == PH_MEASURE ? e->cur : -1;
    if (e->phase == PH_MEASURE) e->sent++;
    send_bytes(c, r, t0, NULL);
}

static conn *conn_new(lp_lg_engine *e) {
    if (e->n_conns == e->cap_conns) {
        int cap = e->cap_conns ? e->cap_conns * 2 : 64;
        conn **cs = realloc(e->conns, (size_t)cap * sizeof *cs);
        if (!cs) return NULL;
        e->conns = cs;
        conn **idle = realloc(e->idle, (size_t)cap * sizeof *idle);
        if (!idle) return NULL;
        e->idle = idle;
        e->cap_conns = cap;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->retry = evtimer_new(e->base, on_retry, c);
    if (!c->retry) {
        free(c);
        return NULL;
    }
    c->e = e;
    c->window = -1;
    e->conns[e->n_conns++] = c;
    return c;
}

/* ---- the level ---- */

static void window_start(lp_lg_engine *e) {
    e->window_start = now_ns();
    if (e->cfg->total_requests > 0) return; /* offline: ends with its last reply */
    double len = e->cfg->duration > 0 ? e->cfg->duration : e->cfg->window;
    struct timeval tv = to_tv(len);
    evtimer_add(e->tick, &tv);
}

static void kick_closed_loop(lp_lg_engine *e) {
    for (int i = 0; i < e->cfg->concurrency && i < e->n_conns; i++) {
        conn *c = e->conns[i];
        if (c->busy) continue;
        if (e->cfg->total_requests > 0 && e->sent >= e->cfg->total_requests) break;
        conn_send(c, now_ns());
    }
}

static void measure_start(lp_lg_engine *e) {
    e->phase = PH_MEASURE;
    e->cur = 0;
    e->sent = 0;
    window_start(e);
    e->measure_start = e->last_reply = e->window_start;
    if (!e->cfg->open_loop) kick_closed_loop(e);
}

static void level_finish(lp_lg_engine *e) {
    e->phase = PH_DRAIN;
    evtimer_del(e->tick);
    evtimer_del(e->send_timer);
    if (!e->in_flight) {
        event_base_loopbreak(e->base);
        return;
    }
    /* Wait for the replies in flight, but not forever. */
    struct timeval tv = to_tv(e->cfg->timeout + 1);
    evtimer_add(e->tick, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    lp_lg_engine *e = arg;
    (void)fd;
    (void)what;
    const lp_lg_level_config *cfg = e->cfg;
    if (e->phase == PH_DRAIN) { /* the drain timed out */
        event_base_loopbreak(e->base);
        return;
    }
    if (e->phase == PH_WARMUP) {
        if (e->progress) e->progress(e->progress_user, cfg, 0, NULL, true);
        if (cfg->total_requests > 0) {
            e->phase = PH_QUIESCE;
            if (!e->in_flight) measure_start(e);
        } else {
            measure_start(e);
        }
        return;
    }
    if (e->phase != PH_MEASURE) return;
    win_data *w = &e->win[e->cur];
    w->w.seconds = (double)(now_ns() - e->window_start) / 1e9;
    if (cfg->duration > 0 && !w->done && w->w.seconds < cfg->timeout) {
        /* A fixed run shorter than one reply (all connections still busy
         * with warm-up requests): go on until a measured request is answered. */
        struct timeval tv = to_tv(cfg->duration);
        evtimer_add(e->tick, &tv);
        return;
    }
    if (e->progress) e->progress(e->progress_user, cfg, e->cur, &w->w, false);
    int measured = e->cur + 1;
    lp_lg_window ws[LP_LG_STABLE_WINDOWS];
    bool stable = false;
    if (measured >= LP_LG_STABLE_WINDOWS) {
        for (int i = 0; i < LP_LG_STABLE_WINDOWS; i++)
            ws[i] = e->win[measured - LP_LG_STABLE_WINDOWS + i].w;
        stable = lp_lg_windows_stable(ws, LP_LG_STABLE_WINDOWS, cfg->stability);
    }
    if (cfg->duration > 0 || stable || measured >= cfg->max_windows) {
        e->n_win = measured;
        level_finish(e);
        return;
    }
    e->cur++;
    window_start(e);
}

/* Open loop: every request that is due now goes out (or is dropped). */
static void on_send_timer(evutil_socket_t fd, short what, void *arg) {
    lp_lg_engine *e = arg;
    (void)fd;
    (void)what;
    const lp_lg_level_config *cfg = e->cfg;
    int64_t t = now_ns();
    while (e->next_due <= t && (e->phase == PH_WARMUP || e->phase == PH_MEASURE)) {
        int64_t due = e->next_due;
        e->next_due += (int64_t)(lp_lg_schedule_next_gap(&e->sched) * 1e9);
        win_data *w = e->phase == PH_MEASURE ? &e->win[e->cur] : NULL;
        double late_ms = (double)(t - due) / 1e6;
        if (w) {
            w->due++;
            if (late_ms > LP_LG_LATE_MS) w->late++;
            if (late_ms > w->max_late_ms) w->max_late_ms = late_ms;
        }
        conn *c = NULL;
        if (e->n_idle) {
            c = e->idle[--e->n_idle];
            c->in_idle = false;
        } else if (e->n_conns < cfg->max_connections) {
            c = conn_new(e);
        }
        if (!c) {
            if (w) w->dropped++;
            continue;
        }
        conn_send(c, due);
        t = now_ns();
    }
    if (e->phase == PH_WARMUP || e->phase == PH_MEASURE) {
        struct timeval tv = to_tv((double)(e->next_due - now_ns()) / 1e9);
        evtimer_add(e->send_timer, &tv);
    }
}

static void summarize(lp_lg_engine *e, lp_lg_level_result *res) {
    const lp_lg_level_config *cfg = e->cfg;
    memset(res, 0, sizeof *res);
    res->cfg = *cfg;
    res->windows = e->n_win;
    int first = e->n_win;
    if (cfg->duration > 0 || cfg->total_requests > 0) first = 0;
    else first = e->n_win > LP_LG_STABLE_WINDOWS ? e->n_win - LP_LG_STABLE_WINDOWS : 0;
    res->windows_used = e->n_win - first;
    if (e->n_win >= LP_LG_STABLE_WINDOWS && cfg->duration <= 0 && cfg->total_requests <= 0) {
        lp_lg_window ws[LP_LG_STABLE_WINDOWS];
        for (int i = 0; i < LP_LG_STABLE_WINDOWS; i++) ws[i] = e->win[first + i].w;
        res->stable = lp_lg_windows_stable(ws, LP_LG_STABLE_WINDOWS, cfg->stability);
    }
    lp_lg_samples all = {0};
    size_t completed = 0;
    for (int k = first; k < e->n_win; k++) {
        win_data *w = &e->win[k];
        for (size_t i = 0; i < w->samples.n; i++)
            if (lp_lg_samples_push(&all, w->samples.v[i], NULL)) break;
        for (int i = 0; i < w->n_codes; i++) {
            add_code(res->codes, &res->n_codes, w->codes[i].code, w->codes[i].count);
            res->errors += w->codes[i].count;
        }
        res->seconds += w->w.seconds;
        completed += w->w.completed;
        res->due += w->due;
        res->late += w->late;
        res->dropped += w->dropped;
        if (w->max_late_ms > res->max_late_ms) res->max_late_ms = w->max_late_ms;
    }
    res->ok = all.n;
    res->latency = lp_lg_summarize(&all);
    lp_lg_samples_free(&all);
    if (cfg->total_requests > 0) {
        completed = res->ok;
    } else if (cfg->duration > 0 && !cfg->open_loop) {
        /* A fixed closed-loop run: the requests sent in it over the time to
         * their last reply (a short run may see no reply inside the window). */
        completed = res->ok;
        if (e->last_reply > e->measure_start) res->seconds = (double)(e->last_reply - e->measure_start) / 1e9;
    }
    res->throughput = res->seconds > 0 ? (double)completed / res->seconds : 0;
    res->offered = res->seconds > 0 ? (double)res->due / res->seconds : 0;
    res->connections = 0;
    for (int i = 0; i < e->n_conns; i++) res->connections += e->conns[i]->bev != NULL;
}

/* Requests still in flight after a timed-out drain: fail them as timeouts. */
static void abandon_in_flight(lp_lg_engine *e) {
    for (int i = 0; i < e->n_conns; i++) {
        conn *c = e->conns[i];
        if (!c->busy) continue;
        c->busy = false;
        e->in_flight--;
        if (c->window >= 0 && c->window < e->n_win) {
            win_data *w = &e->win[c->window];
            w->done++;
            add_code(w->codes, &w->n_codes, LP_LG_CODE_TIMEOUT, 1);
        }
        conn_close(c);
    }
}

static lp_status check_config(const lp_lg_level_config *c, lp_error *err) {
    if (c->open_loop ? !(c->rate > 0) : c->concurrency < 1)
        return lp_fail(err, LP_ERR_INVALID_ARG, "a level needs a rate > 0 or a concurrency >= 1");
    if (c->max_windows < 1 || c->max_windows > 100000 || !(c->window > 0) || !(c->timeout > 0) ||
        c->warmup < 0 || c->max_connections < 1)
        return lp_fail(err, LP_ERR_INVALID_ARG, "bad window, timeout, warm-up or connection limit");
    return LP_OK;
}

lp_status lp_lg_engine_run_level(lp_lg_engine *e, const lp_lg_level_config *cfg,
                                 lp_lg_level_result *res, lp_error *err) {
    lp_status st = check_config(cfg, err);
    if (st) return st;
    int nwin = cfg->duration > 0 || cfg->total_requests > 0 ? 1 : cfg->max_windows;
    e->win = calloc((size_t)nwin, sizeof *e->win);
    if (!e->win) return lp_fail(err, LP_ERR_NOMEM, "no memory for %d windows", nwin);
    e->n_win = nwin;
    e->cfg = cfg;
    e->fail_status = LP_OK;
    e->fail_err = err;
    e->in_flight = 0;
    e->sent = 0;
    e->n_idle = 0;
    for (int i = 0; i < e->n_conns; i++) e->conns[i]->in_idle = false;
    if (!cfg->open_loop) {
        while (e->n_conns < cfg->concurrency)
            if (!conn_new(e)) {
                st = lp_fail(err, LP_ERR_NOMEM, "no memory for connections");
                goto out;
            }
    } else {
        for (int i = 0; i < e->n_conns; i++) {
            e->conns[i]->in_idle = true;
            e->idle[e->n_idle++] = e->conns[i];
        }
        st = lp_lg_schedule_init(&e->sched, cfg->arrival, cfg->rate, cfg->seed, err);
        if (st) goto out;
    }
    if (cfg->warmup > 0) {
        e->phase = PH_WARMUP;
        struct timeval tv = to_tv(cfg->warmup);
        evtimer_add(e->tick, &tv);
        if (!cfg->open_loop)
            for (int i = 0; i < cfg->concurrency; i++) conn_send(e->conns[i], now_ns());
    } else {
        measure_start(e);
    }
    if (cfg->open_loop) {
        e->next_due = now_ns();
        on_send_timer(-1, 0, e);
    }
    event_base_dispatch(e->base);
    st = e->fail_status;
    if (e->in_flight) abandon_in_flight(e);
    e->phase = PH_IDLE;
    for (int i = 0; i < e->n_conns; i++) evtimer_del(e->conns[i]->retry);
    evtimer_del(e->tick);
    evtimer_del(e->send_timer);
    if (!st) summarize(e, res);
out:
    for (int k = 0; k < nwin; k++) lp_lg_samples_free(&e->win[k].samples);
    free(e->win);
    e->win = NULL;
    e->n_win = 0;
    e->cfg = NULL;
    return st;
}

/* ---- one-off requests ---- */

static lp_status oneoff(lp_lg_engine *e, const lp_lg_request *r, double timeout, int *status,
                        struct evbuffer *body, lp_error *err) {
    conn *c = NULL;
    for (int i = 0; i < e->n_conns && !c; i++)
        if (!e->conns[i]->busy) c = e->conns[i];
    if (!c && !(c = conn_new(e))) return lp_fail(err, LP_ERR_NOMEM, "no memory for a connection");
    e->oneoff_done = false;
    e->conn_error[0] = '\0';
    c->oneoff = true;
    c->window = -1;
    lp_lg_level_config tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.timeout = timeout;
    e->cfg = &tmp;
    send_bytes(c, r, now_ns(), body);
    if (!e->oneoff_done) event_base_dispatch(e->base);
    e->cfg = NULL;
    if (!e->oneoff_done) return lp_fail(err, LP_ERR_INTERNAL, "the event loop stopped early");
    *status = e->oneoff_status;
    if (*status == LP_LG_CODE_CONN)
        return lp_fail(err, LP_ERR_IO, "cannot reach http://%s%s: %s", e->url->host_header,
                       e->url->prefix, e->conn_error[0] ? e->conn_error : "connection failed");
    if (*status == LP_LG_CODE_TIMEOUT)
        return lp_fail(err, LP_ERR_IO, "http://%s%s did not answer within %g s",
                       e->url->host_header, e->url->prefix, timeout);
    return LP_OK;
}

lp_status lp_lg_engine_probe(lp_lg_engine *e, double timeout, lp_error *err) {
    struct evbuffer *body = evbuffer_new();
    if (!body) return lp_fail(err, LP_ERR_NOMEM, "no memory");
    int status = 0;
    lp_status st = oneoff(e, &e->reqs->r[0], timeout, &status, body, err);
    if (!st && (status < 200 || status >= 300)) {
        char snippet[200];
        size_t n = evbuffer_remove(body, snippet, sizeof snippet - 1);
        snippet[n == (size_t)-1 ? 0 : n] = '\0';
        for (char *p = snippet; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
        st = lp_fail(err, LP_ERR_IO, "%s %s answered HTTP %d: %s", e->reqs->method,
                     e->reqs->path, status, snippet[0] ? snippet : "(no body)");
    }
    evbuffer_free(body);
    return st;
}

lp_status lp_lg_engine_get(lp_lg_engine *e, const char *path, double timeout, int *status,
                           char **body, size_t *len, lp_error *err) {
    lp_lg_request r;
    lp_status st = lp_lg_request_get(&r, e->url, path, err);
    if (st) return st;
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        free(r.bytes);
        return lp_fail(err, LP_ERR_NOMEM, "no memory");
    }
    st = oneoff(e, &r, timeout, status, buf, err);
    free(r.bytes);
    if (!st) {
        *len = evbuffer_get_length(buf);
        *body = malloc(*len + 1);
        if (!*body) st = lp_fail(err, LP_ERR_NOMEM, "no memory for a %zu-byte reply", *len);
        else {
            evbuffer_remove(buf, *body, *len);
            (*body)[*len] = '\0';
        }
    }
    evbuffer_free(buf);
    return st;
}

/* ---- lifetime ---- */

lp_status lp_lg_engine_new(lp_lg_engine **out, const lp_lg_url *url,
                           const lp_lg_requests *reqs, lp_error *err) {
    lp_lg_engine *e = calloc(1, sizeof *e);
    if (!e) return lp_fail(err, LP_ERR_NOMEM, "no memory for the load engine");
    e->url = url;
    e->reqs = reqs;
    /* Precise timers (timerfd): epoll's millisecond timeouts would make
     * every open-loop send up to 1 ms late. */
    struct event_config *ec = event_config_new();
    if (ec) {
        event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
        e->base = event_base_new_with_config(ec);
        event_config_free(ec);
    }
    if (e->base) {
        e->tick = evtimer_new(e->base, on_tick, e);
        e->send_timer = evtimer_new(e->base, on_send_timer, e);
    }
    if (!e->base || !e->tick || !e->send_timer) {
        lp_lg_engine_free(e);
        return lp_fail(err, LP_ERR_NOMEM, "cannot create the event loop");
    }
    *out = e;
    return LP_OK;
}

void lp_lg_engine_set_progress(lp_lg_engine *e, lp_lg_progress_fn fn, void *user) {
    e->progress = fn;
    e->progress_user = user;
}

void lp_lg_engine_close_all(lp_lg_engine *e) {
    for (int i = 0; i < e->n_conns; i++) {
        conn_close(e->conns[i]);
        event_free(e->conns[i]->retry);
        free(e->conns[i]);
    }
    e->n_conns = 0;
    e->n_idle = 0;
}

void lp_lg_engine_free(lp_lg_engine *e) {
    if (!e) return;
    lp_lg_engine_close_all(e);
    free(e->conns);
    free(e->idle);
    if (e->tick) event_free(e->tick);
    if (e->send_timer) event_free(e->send_timer);
    if (e->base) event_base_free(e->base);
    free(e);
}
