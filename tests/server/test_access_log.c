/* Access-log lines: exact plain and JSON forms, escaping of hostile fields,
 * length bounds, whole lines from many threads, request ids. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/access_log.h"
#include "tests/test_util.h"

/* 2026-11-23T22:40:01.123Z */
static const long long T = 1795473601123LL;

static void test_plain_and_json(void) {
    lp_access_entry e = {.request_id = "abc-1", .method = "POST", .path = "/v1/embed",
                         .model = "minilm", .status = 200, .batch_size = 4, .queue_ms = 0.5,
                         .compute_ms = 12.25, .total_ms = 13, .bytes_in = 120,
                         .bytes_out = 3000};
    char buf[LP_ACCESS_LOG_LINE_MAX];
    size_t n = lp_access_log_format_line(LP_ACCESS_LOG_PLAIN, &e, T, buf);
    const char *want = "2026-11-23T22:40:01.123Z id=abc-1 method=POST path=/v1/embed model=minilm "
                       "status=200 batch=4 queue_ms=0.500 compute_ms=12.250 total_ms=13.000 "
                       "bytes_in=120 bytes_out=3000\n";
    CHECK_MSG(strcmp(buf, want) == 0, "got %s", buf);
    CHECK(n == strlen(want));

    n = lp_access_log_format_line(LP_ACCESS_LOG_JSON, &e, T, buf);
    want = "{\"time\":\"2026-11-23T22:40:01.123Z\",\"id\":\"abc-1\",\"method\":\"POST\","
           "\"path\":\"/v1/embed\",\"model\":\"minilm\",\"status\":200,\"batch\":4,"
           "\"queue_ms\":0.500,\"compute_ms\":12.250,\"total_ms\":13.000,\"bytes_in\":120,"
           "\"bytes_out\":3000}\n";
    CHECK_MSG(strcmp(buf, want) == 0, "got %s", buf);
    CHECK(n == strlen(want));

    /* not reached stages, no model, an error message */
    lp_access_entry r = {.request_id = "x", .method = "GET", .path = "/nope", .status = 404,
                         .queue_ms = -1, .compute_ms = -1, .total_ms = 0.1,
                         .error = "no route"};
    lp_access_log_format_line(LP_ACCESS_LOG_PLAIN, &r, T, buf);
    CHECK_MSG(strstr(buf, " model=- status=404 batch=0 queue_ms=- compute_ms=- total_ms=0.100 ") &&
                  strstr(buf, " error=no\\x20route\n"),
              "got %s", buf);
    lp_access_log_format_line(LP_ACCESS_LOG_JSON, &r, T, buf);
    CHECK_MSG(strstr(buf, "\"model\":null,\"status\":404,\"batch\":0,\"queue_ms\":null,"
                          "\"compute_ms\":null,\"total_ms\":0.100") &&
                  strstr(buf, ",\"error\":\"no route\"}\n"),
              "got %s", buf);
}

static void test_hostile_fields(void) {
    char buf[LP_ACCESS_LOG_LINE_MAX];
    lp_access_entry e = {.request_id = "id", .method = "GET",
                         .path = "/a b\nstatus=500 \"x\"\\\x01\xff\xe4\xb8\xad", .status = 200,
                         .queue_ms = -1, .compute_ms = -1, .total_ms = 1};
    lp_access_log_format_line(LP_ACCESS_LOG_PLAIN, &e, T, buf);
    CHECK_MSG(strstr(buf, " path=/a\\x20b\\x0astatus\\x3d500\\x20\\x22x\\x22\\x5c\\x01\\xff"
                          "\\xe4\\xb8\\xad model=") != NULL,
              "got %s", buf);
    CHECK(strchr(buf, '\n') == buf + strlen(buf) - 1);

    lp_access_log_format_line(LP_ACCESS_LOG_JSON, &e, T, buf);
    cJSON *j = cJSON_Parse(buf);
    CHECK_MSG(j != NULL, "not JSON: %s", buf);
    cJSON *path = cJSON_GetObjectItemCaseSensitive(j, "path");
    /* the invalid 0xff byte becomes U+00FF; the valid UTF-8 passes through */
    CHECK(cJSON_IsString(path) &&
          strcmp(path->valuestring, "/a b\nstatus=500 \"x\"\\\x01\xc3\xbf\xe4\xb8\xad") == 0);
    cJSON_Delete(j);

    /* huge fields are cut, the line stays bounded and (in JSON) parseable */
    size_t big = 100000;
    char *huge = malloc(big + 1);
    for (size_t i = 0; i < big; i++) huge[i] = i % 7 == 0 ? '\x02' : 'a';
    huge[big] = '\0';
    lp_access_entry h = {.request_id = huge, .method = huge, .path = huge, .model = huge,
                         .status = 200, .remote = huge, .error = huge};
    size_t n = lp_access_log_format_line(LP_ACCESS_LOG_JSON, &h, T, buf);
    CHECK(n < LP_ACCESS_LOG_LINE_MAX && buf[n - 1] == '\n' && strlen(buf) == n);
    j = cJSON_Parse(buf);
    CHECK_MSG(j != NULL, "cut JSON line does not parse");
    cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    CHECK(cJSON_IsString(id) && strlen(id->valuestring) < 300 &&
          strstr(id->valuestring, "...") != NULL);
    cJSON_Delete(j);
    n = lp_access_log_format_line(LP_ACCESS_LOG_PLAIN, &h, T, buf);
    CHECK(n < LP_ACCESS_LOG_LINE_MAX && strchr(buf, '\n') == buf + n - 1);
    free(huge);
}

#define THREADS 8
#define LINES 2000

typedef struct arg {
    lp_access_log *log;
    int id;
} arg;

static void *writer(void *p) {
    arg *a = p;
    char path[600];
    memset(path, 'p', sizeof path);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    for (int i = 0; i < LINES; i++) {
        char rid[40];
        lp_request_id_generate(rid, sizeof rid);
        lp_access_entry e = {.request_id = rid, .method = "POST", .path = path,
                             .model = a->id % 2 ? "m" : NULL, .status = 200, .batch_size = a->id,
                             .queue_ms = 1, .compute_ms = 2, .total_ms = 3};
        lp_error err = {0};
        if (lp_access_log_write(a->log, &e, &err) != LP_OK) return (void *)1;
    }
    return NULL;
}

static void test_threads_whole_lines(void) {
    char path[] = "/tmp/lp_access_log_test_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    lp_error err = {0};
    lp_access_log *log = NULL;
    CHECK_OK(lp_access_log_open(path, LP_ACCESS_LOG_JSON, &log, &err), &err);
    CHECK(lp_access_log_get_format(log) == LP_ACCESS_LOG_JSON);
    pthread_t t[THREADS];
    arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (arg){log, i};
        pthread_create(&t[i], NULL, writer, &args[i]);
    }
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        void *rv = NULL;
        pthread_join(t[i], &rv);
        failed += rv != NULL;
    }
    CHECK(failed == 0);
    lp_access_log_close(log);

    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int lines = 0, bad = 0, per_batch[THREADS] = {0};
    char *linebuf = NULL;
    size_t cap = 0;
    ssize_t got;
    /* ids must be unique: keep them to compare */
    char (*ids)[40] = calloc(THREADS * LINES, 40);
    while (f && (got = getline(&linebuf, &cap, f)) > 0) {
        cJSON *j = cJSON_Parse(linebuf);
        cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "batch");
        cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (!j || !cJSON_IsNumber(b) || b->valueint < 0 || b->valueint >= THREADS ||
            !cJSON_IsString(id)) {
            bad++;
        } else {
            per_batch[b->valueint]++;
            if (lines < THREADS * LINES) snprintf(ids[lines], 40, "%s", id->valuestring);
        }
        cJSON_Delete(j);
        lines++;
    }
    free(linebuf);
    if (f) fclose(f);
    unlink(path);
    CHECK_MSG(lines == THREADS * LINES && bad == 0, "%d lines, %d bad", lines, bad);
    for (int i = 0; i < THREADS; i++) CHECK(per_batch[i] == LINES);
    int dup = 0;
    int n = lines < THREADS * LINES ? lines : THREADS * LINES;
    qsort(ids, (size_t)n, 40, (int (*)(const void *, const void *))strcmp);
    for (int i = 1; i < n; i++) dup += strcmp(ids[i], ids[i - 1]) == 0;
    CHECK_MSG(dup == 0, "%d duplicate request ids", dup);
    free(ids);
}

static void test_request_ids(void) {
    CHECK(lp_request_id_valid("abc-123_x.y:z"));
    CHECK(lp_request_id_valid("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
    CHECK(!lp_request_id_valid(""));
    CHECK(!lp_request_id_valid(NULL));
    CHECK(!lp_request_id_valid("a b"));
    CHECK(!lp_request_id_valid("a\nb"));
    CHECK(!lp_request_id_valid("a\"b"));
    char longid[LP_REQUEST_ID_MAX + 2];
    memset(longid, 'a', sizeof longid);
    longid[LP_REQUEST_ID_MAX] = '\0';
    CHECK(lp_request_id_valid(longid));
    longid[LP_REQUEST_ID_MAX] = 'a';
    longid[LP_REQUEST_ID_MAX + 1] = '\0';
    CHECK(!lp_request_id_valid(longid));

    char a[40], b[40];
    lp_request_id_generate(a, sizeof a);
    lp_request_id_generate(b, sizeof b);
    CHECK(strcmp(a, b) != 0);
    CHECK(lp_request_id_valid(a) && lp_request_id_valid(b));
    CHECK(strlen(a) >= 18 && a[16] == '-');
    CHECK(strncmp(a, b, 17) == 0); /* same process prefix */

    lp_error err = {0};
    lp_access_log *log = NULL;
    CHECK_FAILS(lp_access_log_open("/nonexistent-dir/x.log", LP_ACCESS_LOG_PLAIN, &log, &err),
                LP_ERR_IO, &err, "cannot open");
    CHECK_FAILS(lp_access_log_open_fd(-1, false, LP_ACCESS_LOG_PLAIN, &log, &err),
                LP_ERR_INVALID_ARG, &err, "descriptor");
}

int main(void) {
    test_plain_and_json();
    test_hostile_fields();
    test_threads_whole_lines();
    test_request_ids();
    return lp_test_finish();
}
