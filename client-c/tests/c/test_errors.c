/*
 * Error handling from C: NULL arguments, handles of the wrong type, no broker, statuses and
 * their messages. Nothing here may crash, and valgrind must see no invalid access.
 */
#include "common.h"

int main(void) {
    xproc_client_t *c = NULL;
    EXPECT(xproc_client_connect(S("/nonexistent/xproc.sock"), 1000, &c), XPROC_NO_BROKER);
    ASSERT(c == NULL);
    ASSERT(strstr(xproc_last_error(), "/nonexistent/xproc.sock") != NULL);
    EXPECT(xproc_client_connect(NULL, 0, 1000, NULL), XPROC_NULL_ARGUMENT);
    PASS("no broker");

    /* An explicit path works like the default one. */
    const char *path = getenv("XPROC_SOCKET");
    ASSERT(path != NULL);
    CHECK(xproc_client_connect_as(S(path), S("errors-test"), NULL, 0, 5000, &c));
    CHECK(xproc_client_ping(c));
    ASSERT(xproc_last_error()[0] == '\0');
    uint64_t id = 0;
    CHECK(xproc_client_conn_id(c, &id));
    ASSERT(id > 0);
    xproc_limits_t limits;
    CHECK(xproc_client_limits(c, &limits));
    ASSERT(limits.max_frame > 0);
    PASS("connect with a path, ping, limits");

    EXPECT(xproc_client_ping(NULL), XPROC_NULL_ARGUMENT);
    EXPECT(xproc_client_limits(c, NULL), XPROC_NULL_ARGUMENT);
    xproc_queue_t *q = NULL;
    EXPECT(xproc_queue_open(NULL, S("q"), -1, &q), XPROC_NULL_ARGUMENT);
    EXPECT(xproc_queue_open(c, NULL, 1, -1, &q), XPROC_NULL_ARGUMENT);
    EXPECT(xproc_queue_open(c, S("q"), -1, NULL), XPROC_NULL_ARGUMENT);
    EXPECT(xproc_queue_open(c, "", 0, -1, &q), XPROC_INVALID_NAME);
    ASSERT(q == NULL);
    /* A name that is not UTF-8 is XPROC_INVALID_NAME too, as the header says, whichever side
     * catches it (here libxproc, before anything is sent). */
    xproc_dict_t *bad_d = NULL;
    EXPECT(xproc_queue_open(c, "\xff\xfe", 2, -1, &q), XPROC_INVALID_NAME);
    EXPECT(xproc_dict_open(c, "\xff\xfe", 2, &bad_d), XPROC_INVALID_NAME);
    EXPECT(xproc_client_delete(c, "\xc3", 1, NULL), XPROC_INVALID_NAME);
    ASSERT(q == NULL && bad_d == NULL);
    PASS("NULL arguments and bad names");

    char name[64];
    uniq(name, sizeof name, "c-errors");
    CHECK(xproc_queue_open(c, S(name), -1, &q));
    /* Handles of the wrong type are refused, not dereferenced as something else. */
    uint64_t len = 0;
    EXPECT(xproc_client_ping((xproc_client_t *)q), XPROC_INVALID_ARGUMENT);
    EXPECT(xproc_queue_qsize((xproc_queue_t *)c, &len), XPROC_INVALID_ARGUMENT);
    EXPECT(xproc_dict_len((xproc_dict_t *)q, &len), XPROC_INVALID_ARGUMENT);
    bool b = false;
    EXPECT(xproc_value_as_bool((xproc_value_t *)q, &b), XPROC_INVALID_ARGUMENT);
    ASSERT(xproc_value_type((xproc_value_t *)c) == XPROC_VALUE_INVALID);
    xproc_lock_free((xproc_lock_t *)q); /* refused: a no-op */
    CHECK(xproc_queue_qsize(q, &len));
    xproc_dict_t *d = NULL;
    EXPECT(xproc_dict_open(c, S(name), &d), XPROC_TYPE_MISMATCH);
    ASSERT(d == NULL);
    PASS("wrong handle and object types");

    bool deleted = false;
    CHECK(xproc_client_delete(c, S(name), &deleted));
    ASSERT(deleted);
    EXPECT(xproc_queue_qsize(q, &len), XPROC_NOT_FOUND);
    xproc_value_t *stat = NULL;
    EXPECT(xproc_client_stat(c, S(name), &stat), XPROC_NOT_FOUND);
    ASSERT(strcmp(xproc_status_str(XPROC_NOT_FOUND), "XPROC_NOT_FOUND") == 0);
    PASS("deleted objects");

    xproc_value_t *list = NULL;
    CHECK(xproc_client_list(c, &list));
    ASSERT(xproc_value_type(list) == XPROC_VALUE_ARRAY);
    xproc_value_free(list);
    xproc_value_t *clients = NULL;
    CHECK(xproc_client_clients(c, &clients));
    size_t n = 0;
    CHECK(xproc_value_array_len(clients, &n));
    ASSERT(n >= 1);
    xproc_value_free(clients);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    CHECK(xproc_client_list_raw(c, &raw, &raw_len));
    xproc_bytes_free(raw, raw_len);
    CHECK(xproc_client_clients_raw(c, &raw, &raw_len));
    ASSERT(raw_len > 0 && (raw[0] & 0xf0) == 0x90); /* an array */
    xproc_bytes_free(raw, raw_len);
    xproc_queue_t *kept = NULL;
    CHECK(xproc_queue_open(c, S(name), 3, &kept));
    CHECK(xproc_client_stat_raw(c, S(name), &raw, &raw_len));
    ASSERT(raw_len > 0 && (raw[0] & 0xf0) == 0x80); /* a map: {kind, info} */
    xproc_bytes_free(raw, raw_len);
    CHECK(xproc_client_stat(c, S(name), &stat));
    ASSERT(str_equals(field(stat, "kind"), "queue"));
    xproc_value_free(stat);
    CHECK(xproc_client_delete(c, S(name), NULL));
    xproc_queue_free(kept);
    PASS("list, stat and clients");

    xproc_queue_free(q);
    xproc_client_free(c);
    xproc_client_free(NULL);
    return 0;
}
