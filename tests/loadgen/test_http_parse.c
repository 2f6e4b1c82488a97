/* The HTTP/1.1 response reader: Content-Length bodies split across reads,
 * chunked bodies, read-to-close bodies, several replies in one read,
 * Connection: close, and malformed replies. */
#include <string.h>

#include <event2/buffer.h>

#include "loadgen/http_parse.h"
#include "tests/test_util.h"

static lp_lg_parse_result feed(lp_lg_response *r, struct evbuffer *in, const char *s) {
    evbuffer_add(in, s, strlen(s));
    return lp_lg_response_feed(r, in);
}

static void test_content_length_split(void) {
    struct evbuffer *in = evbuffer_new(), *body = evbuffer_new();
    lp_lg_response r;
    lp_lg_response_reset(&r, body);
    const char *msg = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 11\r\n\r\n{\"a\": 1234}";
    /* one byte at a time: every prefix is incomplete, the whole is one reply */
    size_t n = strlen(msg);
    for (size_t i = 0; i < n; i++) {
        evbuffer_add(in, msg + i, 1);
        lp_lg_parse_result res = lp_lg_response_feed(&r, in);
        CHECK_MSG(res == (i + 1 == n ? LP_LG_PARSE_OK : LP_LG_PARSE_MORE), "byte %zu: %d", i, res);
    }
    CHECK(r.status == 200 && r.keep_alive && r.body_bytes == 11);
    CHECK(evbuffer_get_length(body) == 11 && evbuffer_get_length(in) == 0);
    evbuffer_free(in);
    evbuffer_free(body);
}

static void test_pipelined_and_close(void) {
    struct evbuffer *in = evbuffer_new();
    lp_lg_response r;
    lp_lg_response_reset(&r, NULL);
    evbuffer_add_printf(in, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
                            "HTTP/1.1 204 No Content\r\n\r\n"
                            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
                            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    CHECK(lp_lg_response_feed(&r, in) == LP_LG_PARSE_OK);
    CHECK(r.status == 503 && r.body_bytes == 4 && r.keep_alive);
    lp_lg_response_reset(&r, NULL);
    CHECK(lp_lg_response_feed(&r, in) == LP_LG_PARSE_OK);
    CHECK(r.status == 204 && r.body_bytes == 0);
    lp_lg_response_reset(&r, NULL);
    CHECK(lp_lg_response_feed(&r, in) == LP_LG_PARSE_OK);
    CHECK(r.status == 200 && !r.keep_alive); /* HTTP/1.0 without keep-alive */
    lp_lg_response_reset(&r, NULL);
    CHECK(lp_lg_response_feed(&r, in) == LP_LG_PARSE_OK);
    CHECK(r.status == 200 && !r.keep_alive && evbuffer_get_length(in) == 0);
    evbuffer_free(in);
}

static void test_chunked(void) {
    struct evbuffer *in = evbuffer_new(), *body = evbuffer_new();
    lp_lg_response r;
    lp_lg_response_reset(&r, body);
    CHECK(feed(&r, in, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel") == LP_LG_PARSE_MORE);
    CHECK(feed(&r, in, "lo\r\n1a;ext=1\r\n abcdefghijklmnopqrstuvwxy\r\n") == LP_LG_PARSE_MORE);
    CHECK(feed(&r, in, "0\r\nX-Trailer: 1\r\n\r\n") == LP_LG_PARSE_OK);
    CHECK(r.body_bytes == 31 && evbuffer_get_length(body) == 31);
    char text[40] = {0};
    evbuffer_remove(body, text, sizeof text - 1);
    CHECK(!strcmp(text, "hello abcdefghijklmnopqrstuvwxy"));
    evbuffer_free(in);
    evbuffer_free(body);
}

static void test_read_to_close(void) {
    struct evbuffer *in = evbuffer_new();
    lp_lg_response r;
    lp_lg_response_reset(&r, NULL);
    CHECK(feed(&r, in, "HTTP/1.1 200 OK\r\n\r\nsome body") == LP_LG_PARSE_MORE);
    CHECK(!r.keep_alive);
    CHECK(lp_lg_response_eof(&r) == LP_LG_PARSE_OK && r.body_bytes == 9);
    /* a close in the middle of a framed body is an error */
    lp_lg_response_reset(&r, NULL);
    CHECK(feed(&r, in, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") == LP_LG_PARSE_MORE);
    CHECK(lp_lg_response_eof(&r) == LP_LG_PARSE_ERROR);
    CHECK(strstr(r.reason, "closed before") != NULL);
    evbuffer_free(in);
}

static void test_malformed(void) {
    const char *bad[] = {
        "SSH-2.0-OpenSSH\r\n",
        "HTTP/1.1 2x0 OK\r\n",
        "HTTP/2 200\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct evbuffer *in = evbuffer_new();
        lp_lg_response r;
        lp_lg_response_reset(&r, NULL);
        lp_lg_parse_result res = feed(&r, in, bad[i]);
        CHECK_MSG(res == LP_LG_PARSE_ERROR && r.reason[0], "case %zu: result %d", i, res);
        evbuffer_free(in);
    }
    /* a header line without an end, longer than the limit */
    struct evbuffer *in = evbuffer_new();
    lp_lg_response r;
    lp_lg_response_reset(&r, NULL);
    CHECK(feed(&r, in, "HTTP/1.1 200 OK\r\nX: ") == LP_LG_PARSE_MORE);
    char big[LP_LG_MAX_LINE + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(feed(&r, in, big) == LP_LG_PARSE_ERROR);
    evbuffer_free(in);
}

int main(void) {
    test_content_length_split();
    test_pipelined_and_close();
    test_chunked();
    test_read_to_close();
    test_malformed();
    return lp_test_finish();
}
