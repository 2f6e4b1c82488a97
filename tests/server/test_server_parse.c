/* The server's own parsers of outside input: base64 (image bodies), multipart
 * form data, model names and the config file. Hostile inputs included: every
 * case must fail with a message or succeed exactly, never read past its input
 * (the Asan build checks that). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/body_parse.h"
#include "server/routes.h"
#include "server/server.h"
#include "tests/test_util.h"

static void test_base64(void) {
    char why[160];
    unsigned char *out;
    size_t n;
    static const struct { const char *in, *want; } ok[] = {
        {"", ""},           {"Zg==", "f"},        {"Zm8=", "fo"},      {"Zm9v", "foo"},
        {"Zm9vYg", "foob"}, {"Zm9v\nYmFy", "foobar"}, {"data:text/plain;base64,aGk=", "hi"},
        {"-_8=", "\xfb\xff"}, {"+/8=", "\xfb\xff"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        bool r = lp_srv_base64_decode(ok[i].in, strlen(ok[i].in), &out, &n, why, sizeof why);
        CHECK_MSG(r && n == strlen(ok[i].want) && !memcmp(out, ok[i].want, n), "'%s': %s", ok[i].in, r ? "" : why);
        free(out);
    }
    static const struct { const char *in, *needle; } bad[] = {
        {"Zm9v!", "not base64"}, {"Z", "truncated"}, {"Zg==Zg", "after '='"}, {"Zg===", "truncated"},
        {"data:text/plain,hi", "must be base64"}, {"\x80\x81", "not base64"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool r = lp_srv_base64_decode(bad[i].in, strlen(bad[i].in), &out, &n, why, sizeof why);
        CHECK_MSG(!r && strstr(why, bad[i].needle), "'%s' -> %s", bad[i].in, r ? "accepted" : why);
        if (r) free(out);
    }
}

static void test_multipart(void) {
    char b[80], why[200];
    CHECK(lp_srv_multipart_boundary("multipart/form-data; boundary=abc", b, sizeof b) && !strcmp(b, "abc"));
    CHECK(lp_srv_multipart_boundary("multipart/form-data; boundary=\"a b\"; x=1", b, sizeof b) && !strcmp(b, "a b"));
    CHECK(!lp_srv_multipart_boundary("multipart/form-data", b, sizeof b));
    CHECK(!lp_srv_multipart_boundary("multipart/form-data; boundary=", b, sizeof b));

    const char body[] = "preamble\r\n--XY\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nimg\r\n"
                        "--XY\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
                        "Content-Type: image/png\r\n\r\n\x89PNG\r\n--X\r\n--XY--\r\n";
    lp_srv_part *parts;
    size_t n;
    bool r = lp_srv_multipart_parse((const unsigned char *)body, sizeof body - 1, "XY", &parts, &n, why, sizeof why);
    CHECK_MSG(r && n == 2, "%s", r ? "" : why);
    if (r && n == 2) {
        CHECK(!strcmp(parts[0].name, "model") && !parts[0].filename && parts[0].len == 3 &&
              !memcmp(parts[0].data, "img", 3));
        CHECK(!strcmp(parts[1].name, "image") && parts[1].filename && !strcmp(parts[1].filename, "a.png"));
        CHECK(parts[1].content_type && !strcmp(parts[1].content_type, "image/png"));
        /* the data runs to the CRLF before the next delimiter, which "--X" is not */
        CHECK(parts[1].len == 9 && !memcmp(parts[1].data, "\x89PNG\r\n--X", 9));
    }
    free(parts);
    static const char *bad[] = {
        "no boundary here",
        "--XY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
        "--XY\r\nContent-Disposition: form-data; name=\"a\"",
        "--XY",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* an exact-size copy, so Asan sees any read past the end */
        size_t len = strlen(bad[i]);
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, bad[i], len);
        r = lp_srv_multipart_parse(copy, len, "XY", &parts, &n, why, sizeof why);
        CHECK_MSG(!r && why[0], "case %zu accepted", i);
        if (r) free(parts);
        free(copy);
    }
}

/* Found by fuzzing: an unquoted parameter at the end of a header line was
 * scanned with strcspn past the header (and past the body when it was not
 * NUL-terminated). Parsed from an exact-size copy so Asan sees any overread. */
static void test_multipart_unquoted_param_at_end(void) {
    const char text[] = "--XY\r\nContent-Disposition: form-data; name=\"image\"; filename=ja\"\r\n"
                        "Content-Type: image/png\r\n\r\nabc\r\n--XY--\r\n";
    size_t len = sizeof text - 1;
    unsigned char *copy = malloc(len);
    memcpy(copy, text, len);
    lp_srv_part *parts;
    size_t n;
    char why[200];
    bool r = lp_srv_multipart_parse(copy, len, "XY", &parts, &n, why, sizeof why);
    CHECK_MSG(r && n == 1 && parts[0].filename && !strcmp(parts[0].filename, "ja\"") && parts[0].len == 3, "%s",
              r ? "" : why);
    if (r) free(parts);
    free(copy);
}

static void test_names_and_utf8(void) {
    CHECK(lp_srv_model_name_ok("minilm"));
    CHECK(lp_srv_model_name_ok("opus-mt_zh.en-2"));
    CHECK(!lp_srv_model_name_ok(""));
    CHECK(!lp_srv_model_name_ok(".."));
    CHECK(!lp_srv_model_name_ok("a/b"));
    CHECK(!lp_srv_model_name_ok("a b"));
    CHECK(!lp_srv_model_name_ok("12345678901234567890123456789012345678901234567890123456789012345"));
    CHECK(lp_srv_utf8_ok("h\xc3\xa9 \xe4\xbd\xa0 \xf0\x9f\x99\x82", 12));
    CHECK(!lp_srv_utf8_ok("\xc0\xaf", 2));         /* overlong */
    CHECK(!lp_srv_utf8_ok("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!lp_srv_utf8_ok("\xe4\xbd", 2));         /* cut short */
    CHECK(!lp_srv_utf8_ok("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
}

static char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/lp-server-cfg-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_config(void) {
    lp_server_options o;
    lp_error err = {0};
    lp_server_options_init(&o);
    CHECK_OK(lp_server_add_model_arg(&o, "a=/x", &err), &err);
    CHECK_FAILS(lp_server_add_model_arg(&o, "a=/y", &err), LP_ERR_INVALID_ARG, &err, "given twice");
    CHECK_FAILS(lp_server_add_model_arg(&o, "../etc=/y", &err), LP_ERR_INVALID_ARG, &err, "not allowed");
    CHECK_FAILS(lp_server_add_model_arg(&o, "noequals", &err), LP_ERR_INVALID_ARG, &err, "NAME=DIR");
    char *p = write_tmp("{\"port\": 9000, \"models\": [{\"name\": \"m\", \"path\": \"rel\", \"task\": \"diagnose\","
                        " \"max_batch_size\": 8, \"max_queue_delay_us\": 500, \"workers\": 2,"
                        " \"thresholds\": {\"malignant\": 0.2}}]}");
    CHECK_OK(lp_server_load_config(&o, p, &err), &err);
    CHECK(o.port == 9000 && o.n_models == 2);
    if (o.n_models == 2) {
        lp_srv_model_config *m = &o.models[1];
        CHECK(!strcmp(m->name, "m") && m->task == LP_TASK_IMAGE && m->task_given);
        CHECK(m->max_batch_size == 8 && m->max_queue_delay_us == 500 && m->workers == 2);
        CHECK(!strcmp(m->dir, "/tmp/rel")); /* relative to the config file */
    }
    unlink(p);
    static const struct { const char *text, *needle; } bad[] = {
        {"[1]", "not a JSON object"},
        {"{\"models\": [{\"name\": \"q\"}]}", "no \"path\""},
        {"{\"models\": [{\"name\": \"q\", \"path\": \"d\", \"max_batch_size\": 0}]}", "max_batch_size"},
        {"{\"models\": [{\"name\": \"q\", \"path\": \"d\", \"task\": \"dance\"}]}", "task 'dance'"},
        {"{\"models\": [{\"name\": \"q\", \"path\": \"d\", \"device\": \"tpu\"}]}", "cpu"},
        {"{\"models\": [{\"name\": \"q\", \"path\": \"d\", \"colour\": 1}]}", "unknown key \"colour\""},
        {"{\"port\": 70000}", "port"},
        {"{\"models\": [{\"name\": \"q\", \"path\": \"d\", \"thresholds\": {\"a\": 2}}]}", "0..1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lp_server_options b;
        lp_server_options_init(&b);
        p = write_tmp(bad[i].text);
        lp_error_clear(&err);
        lp_status st = lp_server_load_config(&b, p, &err);
        CHECK_MSG(st != LP_OK && strstr(err.msg, bad[i].needle), "'%s' -> %s", bad[i].text, err.msg);
        unlink(p);
        lp_server_options_free(&b);
    }
    lp_server_options_free(&o);
}

int main(void) {
    test_base64();
    test_multipart();
    test_multipart_unquoted_param_at_end();
    test_names_and_utf8();
    test_config();
    return lp_test_finish();
}
