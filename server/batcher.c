/* The dynamic batcher: one queue per model, drained by that model's worker
 * threads, each with its own model session.
 *
 * A worker takes a batch when the queued items reach max_batch_size, or when
 * the oldest queued job has waited max_queue_delay_us (while draining, at
 * once). Jobs are taken whole and in arrival order; a job larger than
 * max_batch_size runs alone (the session splits it into passes). Within a
 * batch the encoder sorts texts by length and runs groups of similar length,
 * each padded only to its own longest text, so mixing lengths costs little
 * padding. Finished jobs go back to the event thread (lp_srv_post_done).
 *
 * The queue lock guards the list, the item count and each job's phase. The
 * event thread removes queued jobs at their deadline or when their client
 * goes away (lp_srv_queue_remove); a job already running comes back as usual
 * and the event thread drops it. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server_priv.h"

typedef struct worker {
    struct lp_srv_queue *q;
    pthread_t thread;
    bool started;
    lp_threadpool *pool;
    lp_encoder_session *enc;
    lp_image_session *img;
    lp_translator_session *tr;
    lp_encoder_text *texts;
    size_t texts_cap;
    lp_image_input *images;
    lp_image_result *results;
    int64_t *top_index;
    float *top_score;
    size_t images_cap, classes;
    bool *trunc;
    float *out;
    size_t out_cap;
} worker;

struct lp_srv_queue {
    lp_srv_model *m;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lp_srv_job *head, *tail;
    size_t items;
    bool stopping;
    int nworkers;
    worker *w;
};

/* ---- the list (under q->mu) --------------------------------------------- */

static void unlink_job(struct lp_srv_queue *q, lp_srv_job *j) {
    if (j->prev_in_queue) j->prev_in_queue->next_in_queue = j->next_in_queue;
    else q->head = j->next_in_queue;
    if (j->next_in_queue) j->next_in_queue->prev_in_queue = j->prev_in_queue;
    else q->tail = j->prev_in_queue;
    j->next_in_queue = j->prev_in_queue = NULL;
    q->items -= j->n;
}

static void append_job(struct lp_srv_queue *q, lp_srv_job *j) {
    j->prev_in_queue = q->tail;
    j->next_in_queue = NULL;
    if (q->tail) q->tail->next_in_queue = j;
    else q->head = j;
    q->tail = j;
    q->items += j->n;
}

/* ---- running a batch (worker thread, no lock held) ---------------------- */

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    void *g = realloc(*p, need * elem);
    if (!g) return false;
    *p = g;
    *cap = need;
    return true;
}

static void job_fail(lp_srv_job *j, int status, const char *msg) {
    j->http_status = status;
    snprintf(j->error, sizeof j->error, "%s", msg);
}

/* Texts of `jobs` (all of one text kind) in one call; false when the call as
 * a whole failed (err says why). */
static bool run_texts(worker *w, lp_srv_job **jobs, size_t nj, lp_error *err) {
    lp_srv_model *m = w->q->m;
    bool embed = jobs[0]->kind == LP_JOB_EMBED;
    size_t n = 0;
    for (size_t i = 0; i < nj; i++) n += jobs[i]->n;
    int64_t width = embed ? lp_encoder_embedding_dim(m->encoder) : lp_encoder_num_labels(m->encoder);
    size_t tcap = w->texts_cap, ocap = w->out_cap;
    if (!grow((void **)&w->texts, &tcap, n, sizeof *w->texts) ||
        !grow((void **)&w->trunc, &w->texts_cap, n, sizeof *w->trunc) ||
        !grow((void **)&w->out, &ocap, n * (size_t)width, sizeof *w->out)) {
        lp_fail(err, LP_ERR_NOMEM, "out of memory for a batch of %zu texts", n);
        return false;
    }
    w->out_cap = ocap;
    size_t k = 0;
    for (size_t i = 0; i < nj; i++)
        for (size_t t = 0; t < jobs[i]->n; t++) w->texts[k++] = jobs[i]->texts[t];
    lp_status st = embed ? lp_encoder_embed_text(w->enc, w->texts, n, w->out, w->trunc, err)
                         : lp_encoder_classify_text(w->enc, w->texts, n, w->out, w->trunc, err);
    if (st != LP_OK) return false;
    k = 0;
    for (size_t i = 0; i < nj; i++) {
        lp_srv_job *j = jobs[i];
        j->out_width = width;
        j->out = malloc(j->n * (size_t)width * sizeof *j->out);
        j->truncated = malloc(j->n * sizeof *j->truncated);
        if (!j->out || !j->truncated) {
            job_fail(j, 500, "out of memory for the results");
        } else {
            memcpy(j->out, w->out + k * (size_t)width, j->n * (size_t)width * sizeof *j->out);
            memcpy(j->truncated, w->trunc + k, j->n * sizeof *j->truncated);
            for (size_t t = 0; t < j->n && j->forbid_truncation; t++)
                if (j->truncated[t]) {
                    char msg[256];
                    snprintf(msg, sizeof msg,
                             "input %zu is longer than the model's limit of %lld tokens and truncation is "
                             "off (\"truncate\": false); shorten it or allow truncation",
                             t, (long long)lp_encoder_max_tokens(m->encoder));
                    job_fail(j, 422, msg);
                    break;
                }
        }
        k += j->n;
    }
    return true;
}

static bool run_images(worker *w, lp_srv_job **jobs, size_t nj, lp_error *err) {
    lp_srv_model *m = w->q->m;
    size_t C = (size_t)lp_image_classifier_num_classes(m->image), n = 0;
    for (size_t i = 0; i < nj; i++) n += jobs[i]->n;
    size_t cap = w->images_cap;
    if (n > cap || C != w->classes) {
        free(w->images);
        free(w->results);
        free(w->top_index);
        free(w->top_score);
        w->images = calloc(n, sizeof *w->images);
        w->results = calloc(n, sizeof *w->results);
        w->top_index = malloc(n * C * sizeof *w->top_index);
        w->top_score = malloc(n * C * sizeof *w->top_score);
        w->images_cap = w->images && w->results && w->top_index && w->top_score ? n : 0;
        w->classes = C;
        if (!w->images_cap) {
            lp_fail(err, LP_ERR_NOMEM, "out of memory for a batch of %zu images", n);
            return false;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < nj; i++)
        for (size_t t = 0; t < jobs[i]->n; t++, k++) {
            w->images[k] = jobs[i]->images[t];
            memset(&w->results[k], 0, sizeof w->results[k]);
            w->results[k].index = w->top_index + k * C;
            w->results[k].score = w->top_score + k * C;
        }
    if (lp_image_session_classify(w->img, w->images, n, (int)C, w->results, err)) return false;
    k = 0;
    for (size_t i = 0; i < nj; i++) {
        lp_srv_job *j = jobs[i];
        j->out_width = (int64_t)C;
        j->out = calloc(j->n * C, sizeof *j->out);
        j->image_results = calloc(j->n, sizeof *j->image_results);
        if (!j->out || !j->image_results) {
            job_fail(j, 500, "out of memory for the results");
            k += j->n;
            continue;
        }
        for (size_t t = 0; t < j->n; t++, k++) {
            lp_image_result *r = &w->results[k];
            j->image_results[t].status = r->status;
            memcpy(j->image_results[t].error, r->error, sizeof r->error);
            /* scores back in class order, so a handler can read any class */
            for (int e = 0; r->status == LP_OK && e < r->k; e++) j->out[t * C + (size_t)r->index[e]] = r->score[e];
        }
    }
    return true;
}

/* Jobs of one translate group share their options (run_group splits by them). */
static bool run_translate(worker *w, lp_srv_job **jobs, size_t nj, lp_error *err) {
    lp_srv_model *m = w->q->m;
    size_t n = 0;
    for (size_t i = 0; i < nj; i++) n += jobs[i]->n;
    lp_translate_text *in = malloc(n * sizeof *in);
    lp_translation *res = calloc(n, sizeof *res);
    if (!in || !res) {
        free(in);
        free(res);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory for a batch of %zu texts", n), false;
    }
    size_t k = 0;
    for (size_t i = 0; i < nj; i++)
        for (size_t t = 0; t < jobs[i]->n; t++, k++) in[k] = (lp_translate_text){jobs[i]->texts[t].text, jobs[i]->texts[t].len};
    lp_translate_options o = lp_translator_default_options(m->translator);
    if (jobs[0]->beam > 0) o.num_beams = jobs[0]->beam;
    if (jobs[0]->max_length > 0) {
        o.max_length = jobs[0]->max_length;
        o.max_new_tokens = 0;
    }
    bool ok = lp_translate_texts(w->tr, in, n, &o, res, err) == LP_OK;
    free(in);
    if (!ok) {
        free(res);
        return false;
    }
    k = 0;
    for (size_t i = 0; i < nj; i++) {
        lp_srv_job *j = jobs[i];
        j->translations = calloc(j->n, sizeof *j->translations);
        j->hit_max_length = calloc(j->n, sizeof *j->hit_max_length);
        j->out = calloc(j->n, sizeof *j->out);
        j->out_width = 1;
        for (size_t t = 0; t < j->n; t++, k++) {
            if (!j->translations || !j->hit_max_length || !j->out) continue;
            j->translations[t] = res[k].text; /* moved */
            res[k].text = NULL;
            j->out[t] = res[k].score;
            j->hit_max_length[t] = res[k].hit_max_length;
        }
        if (!j->translations || !j->hit_max_length || !j->out) job_fail(j, 500, "out of memory for the results");
    }
    lp_translations_free(res, n);
    free(res);
    return true;
}

static bool run_tensor(worker *w, lp_srv_job *j, lp_error *err) {
    size_t C = (size_t)lp_image_classifier_num_classes(w->q->m->image);
    j->out = malloc(j->n * C * sizeof *j->out);
    if (!j->out) return lp_fail(err, LP_ERR_NOMEM, "out of memory for the results"), false;
    j->out_width = (int64_t)C;
    lp_tensor x = lp_tensor_4d((float *)j->tensor, LP_F32, (int64_t)j->n, 3, j->tensor_h, j->tensor_w);
    lp_tensor o = lp_tensor_2d(j->out, LP_F32, (int64_t)j->n, (int64_t)C);
    return lp_image_session_forward(w->img, &x, false, &o, err) == LP_OK;
}

/* Runs one group of jobs of the same kind; on a failure of the whole call,
 * each job is retried alone so that one bad request fails only itself. */
static void run_group(worker *w, lp_srv_job **jobs, size_t nj) {
    lp_error err = {0};
    lp_srv_job_kind kind = jobs[0]->kind;
    bool ok;
    if (kind == LP_JOB_CLASSIFY || kind == LP_JOB_EMBED) ok = run_texts(w, jobs, nj, &err);
    else if (kind == LP_JOB_IMAGE || kind == LP_JOB_IMAGE_PROBS) ok = run_images(w, jobs, nj, &err);
    else if (kind == LP_JOB_IMAGE_TENSOR) {
        for (size_t i = 0; i < nj; i++)
            if (!run_tensor(w, jobs[i], &err)) {
                job_fail(jobs[i], 422, err.msg);
                lp_error_clear(&err);
            }
        return;
    } else if (kind == LP_JOB_TRANSLATE) {
        /* one call per distinct (beam, max_length) */
        size_t done = 0;
        for (size_t i = 0; i < nj; i++) {
            if (jobs[i]->http_status) continue;
            lp_srv_job *same[nj];
            size_t ns = 0;
            for (size_t t = i; t < nj; t++)
                if (!jobs[t]->http_status && jobs[t]->beam == jobs[i]->beam && jobs[t]->max_length == jobs[i]->max_length)
                    same[ns++] = jobs[t];
            lp_error e = {0};
            if (!run_translate(w, same, ns, &e)) {
                if (ns > 1) {
                    for (size_t t = 0; t < ns; t++) {
                        lp_error e1 = {0};
                        if (!run_translate(w, &same[t], 1, &e1))
                            job_fail(same[t], e1.status == LP_ERR_NOMEM ? 500 : 422, e1.msg);
                        else if (!same[t]->http_status) same[t]->http_status = 200;
                    }
                } else {
                    job_fail(same[0], e.status == LP_ERR_NOMEM ? 500 : 422, e.msg);
                }
            }
            for (size_t t = 0; t < ns; t++)
                if (!same[t]->http_status) same[t]->http_status = 200;
            done += ns;
        }
        (void)done;
        return;
    } else {
        ok = false;
        lp_fail(&err, LP_ERR_UNSUPPORTED, "this server cannot run that kind of job");
    }
    if (ok) return;
    if (nj > 1) {
        for (size_t i = 0; i < nj; i++) run_group(w, &jobs[i], 1);
        return;
    }
    job_fail(jobs[0], err.status == LP_ERR_NOMEM || err.status == LP_ERR_INTERNAL ? 500 : 422, err.msg);
}

static double now_s(void) { return lp_srv_now_s(); }

static void run_batch(worker *w, lp_srv_job *batch, int items) {
    size_t nj = 0;
    for (lp_srv_job *j = batch; j; j = j->next_done) nj++;
    lp_srv_job **jobs = malloc(nj * sizeof *jobs), **group = malloc(nj * sizeof *group);
    double t0 = now_s();
    if (!jobs || !group) {
        for (lp_srv_job *j = batch; j; j = j->next_done) job_fail(j, 500, "out of memory");
    } else {
        size_t k = 0;
        for (lp_srv_job *j = batch; j; j = j->next_done) jobs[k++] = j;
        /* one call per kind, in order of first appearance */
        for (size_t i = 0; i < nj; i++) {
            if (!jobs[i]) continue;
            size_t g = 0;
            lp_srv_job_kind kind = jobs[i]->kind;
            for (size_t t = i; t < nj; t++)
                if (jobs[t] && jobs[t]->kind == kind) {
                    group[g++] = jobs[t];
                    jobs[t] = NULL;
                }
            run_group(w, group, g);
        }
    }
    double t1 = now_s();
    free(jobs);
    free(group);
    lp_srv_observe_batch(w->q->m, items, t1 - t0);
    lp_srv_job *next;
    for (lp_srv_job *j = batch; j; j = next) {
        next = j->next_done;
        j->next_done = NULL;
        j->batch_items = items;
        j->queue_ms = (t0 - j->t_submit) * 1e3;
        j->compute_ms = (t1 - t0) * 1e3;
        if (j->http_status == 0) j->http_status = 200;
        lp_srv_post_done(w->q->m->srv, j);
    }
}

static void abs_time(double t_mono, struct timespec *ts) {
    /* the condition variable runs on CLOCK_MONOTONIC (see lp_srv_queue_start) */
    double s = t_mono < 0 ? 0 : t_mono;
    ts->tv_sec = (time_t)s;
    ts->tv_nsec = (long)((s - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    struct lp_srv_queue *q = w->q;
    const lp_srv_model_config *c = &q->m->cfg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping) pthread_cond_wait(&q->cv, &q->mu);
        if (!q->head) break;
        if (!q->stopping && q->items < (size_t)c->max_batch_size) {
            double close_at = q->head->t_submit + (double)c->max_queue_delay_us * 1e-6;
            if (now_s() < close_at) {
                struct timespec ts;
                abs_time(close_at, &ts);
                pthread_cond_timedwait(&q->cv, &q->mu, &ts);
                continue; /* look again: the queue may have grown or shrunk */
            }
        }
        lp_srv_job *batch = NULL, *last = NULL;
        int items = 0;
        while (q->head && (items == 0 || (size_t)items + q->head->n <= (size_t)c->max_batch_size)) {
            lp_srv_job *j = q->head;
            unlink_job(q, j);
            j->phase = LP_JOB_RUNNING;
            items += (int)j->n;
            if (last) last->next_done = j;
            else batch = j;
            last = j;
        }
        size_t depth = q->items;
        if (q->head) pthread_cond_signal(&q->cv); /* more for another worker */
        pthread_mutex_unlock(&q->mu);
        lp_srv_observe_queue_depth(q->m, depth);
        run_batch(w, batch, items);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void worker_free(worker *w) {
    lp_encoder_session_free(w->enc);
    lp_image_session_free(w->img);
    lp_translator_session_free(w->tr);
    lp_threadpool_destroy(w->pool);
    free(w->texts);
    free(w->trunc);
    free(w->out);
    free(w->images);
    free(w->results);
    free(w->top_index);
    free(w->top_score);
}

static void queue_free(struct lp_srv_queue *q) {
    for (int i = 0; i < q->nworkers; i++) worker_free(&q->w[i]);
    free(q->w);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

lp_status lp_srv_queue_start(lp_srv_model *m, lp_error *err) {
    struct lp_srv_queue *q = calloc(1, sizeof *q);
    if (!q) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    q->m = m;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    const lp_srv_model_config *c = &m->cfg;
    q->nworkers = c->workers;
    q->w = calloc((size_t)c->workers, sizeof *q->w);
    if (!q->w) {
        queue_free(q);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    int threads = c->threads > 0 ? c->threads : lp_default_num_threads() / c->workers;
    if (threads < 1) threads = 1;
    const lp_backend *backend = m->srv->opts->backend ? m->srv->opts->backend : lp_backend_cpu();
    for (int i = 0; i < q->nworkers; i++) {
        worker *w = &q->w[i];
        w->q = q;
        w->pool = threads > 1 ? lp_threadpool_create(threads) : NULL;
        if (threads > 1 && !w->pool) {
            queue_free(q);
            return lp_fail(err, LP_ERR_NOMEM, "cannot start %d compute threads", threads);
        }
        lp_status st = m->encoder ? lp_encoder_session_create_on(m->encoder, backend, w->pool, c->max_batch_size,
                                                                 &w->enc, err)
                       : m->translator ? lp_translator_session_create_on(m->translator, backend, w->pool,
                                                                         c->max_batch_size, &w->tr, err)
                                       : lp_image_session_create(m->image, backend, w->pool, &w->img, err);
        /* the workers share the model's packed weights and oneDNN's
         * primitives: preparing them once, before ready, is for all */
        if (!st && i == 0 && w->enc) st = lp_encoder_session_warm(w->enc, err);
        if (st) {
            queue_free(q);
            return st;
        }
    }
    for (int i = 0; i < q->nworkers; i++) {
        if (pthread_create(&q->w[i].thread, NULL, worker_main, &q->w[i]) != 0) {
            m->queue = q;
            lp_srv_queue_stop(m);
            return lp_fail(err, LP_ERR_INTERNAL, "cannot start a worker thread");
        }
        q->w[i].started = true;
    }
    m->queue = q;
    return LP_OK;
}

void lp_srv_queue_stop(lp_srv_model *m) {
    struct lp_srv_queue *q = m->queue;
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nworkers; i++)
        if (q->w[i].started) pthread_join(q->w[i].thread, NULL);
    /* Jobs still queued belong to requests; they are freed with them. */
    while (q->head) {
        lp_srv_job *j = q->head;
        unlink_job(q, j);
        j->phase = LP_JOB_FINISHED;
    }
    queue_free(q);
    m->queue = NULL;
}

void lp_srv_queue_flush(lp_srv_model *m) {
    struct lp_srv_queue *q = m->queue;
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stopping = true; /* run what is queued at once; the workers end when it is done */
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t lp_srv_queue_depth(lp_srv_model *m) {
    struct lp_srv_queue *q = m->queue;
    if (!q) return 0;
    pthread_mutex_lock(&q->mu);
    size_t d = q->items;
    pthread_mutex_unlock(&q->mu);
    return d;
}

bool lp_srv_queue_remove(lp_srv_job *job) {
    struct lp_srv_queue *q = job->model->queue;
    if (!q) return job->phase != LP_JOB_RUNNING;
    pthread_mutex_lock(&q->mu);
    bool queued = job->phase == LP_JOB_QUEUED;
    if (queued) {
        unlink_job(q, job);
        job->phase = LP_JOB_FINISHED;
    }
    size_t depth = q->items;
    pthread_mutex_unlock(&q->mu);
    if (queued) lp_srv_observe_queue_depth(job->model, depth);
    return queued || job->phase != LP_JOB_RUNNING;
}

/* ---- submitting (event thread) -------------------------------------------- */

static void deadline_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    lp_srv_job *job = arg;
    bool removed = lp_srv_queue_remove(job);
    char msg[200];
    snprintf(msg, sizeof msg, "the request's deadline (%lld ms) passed before model '%s' %s it",
             (long long)((job->t_deadline - job->t_submit) * 1e3 + 0.5), job->model->name,
             removed ? "could start" : "finished");
    job->http_status = 504;
    snprintf(job->error, sizeof job->error, "%s", msg);
    if (!removed) job->abandoned = true; /* still running: it will be dropped when it comes back */
    lp_srv_job_complete(job);
}

void lp_srv_submit(lp_srv_job *job) {
    lp_srv_model *m = job->model;
    lp_server *srv = m->srv;
    int state = atomic_load(&m->state);
    const lp_srv_model_config *c = &m->cfg;
    if (state != LP_MODEL_READY || !m->queue) {
        job->http_status = 503;
        snprintf(job->error, sizeof job->error, "model '%s' is %s; retry when /v2/health/ready says ready",
                 m->name, state == LP_MODEL_FAILED ? "not available (it failed to load)" : "still loading");
        lp_srv_job_complete(job);
        return;
    }
    if (srv->draining) {
        job->http_status = 503;
        snprintf(job->error, sizeof job->error, "the server is shutting down");
        lp_srv_job_complete(job);
        return;
    }
    struct lp_srv_queue *q = m->queue;
    job->t_submit = now_s();
    int64_t timeout = job->timeout_ms >= 0 ? job->timeout_ms : c->timeout_ms;
    pthread_mutex_lock(&q->mu);
    if (q->items + job->n > (size_t)c->max_queue_size) {
        size_t items = q->items;
        pthread_mutex_unlock(&q->mu);
        job->http_status = 503;
        snprintf(job->error, sizeof job->error,
                 "model '%s' is overloaded: its queue holds %zu of %d items; retry later", m->name, items,
                 c->max_queue_size);
        lp_srv_job_complete(job);
        return;
    }
    append_job(q, job);
    job->phase = LP_JOB_QUEUED;
    job->counted_in_flight = true;
    size_t depth = q->items;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    lp_srv_observe_queue_depth(m, depth);
    lp_srv_observe_in_flight(m, 1);
    if (timeout > 0) {
        job->t_deadline = job->t_submit + (double)timeout * 1e-3;
        job->deadline_ev = evtimer_new(srv->base, deadline_cb, job);
        struct timeval tv = {(time_t)(timeout / 1000), (suseconds_t)((timeout % 1000) * 1000)};
        if (job->deadline_ev) evtimer_add(job->deadline_ev, &tv);
    }
}
