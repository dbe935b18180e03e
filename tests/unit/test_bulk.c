/* Bulk transfer limits (server/api/bulk.c): per user, then server-wide, each refusal naming its
 * config key; imports and exports count alike; work_mem shared out from bulk.memory; and the
 * staging COPY text of an import row (store/import.c) escaped field by field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/server.h"
#include "store/import_store.h"

/* Three users' connections; a transfer is any non-NULL import/export pointer (never followed). */
static struct server srv;
static struct client clients[4];

static void setup_clients(void)
{
    memset(&srv, 0, sizeof srv);
    memset(clients, 0, sizeof clients);
    srv.cfg.bulk_max_concurrent = 3;
    srv.cfg.bulk_max_per_user = 2;
    srv.cfg.bulk_memory = 512LL << 20;
    for (int i = 0; i < 4; i++) {
        clients[i].srv = &srv;
        clients[i].state = CLIENT_USER;
        clients[i].user.id = i < 2 ? 1 : i + 1; /* clients 0 and 1: user 1 */
        clients[i].next = i < 3 ? &clients[i + 1] : NULL;
    }
    srv.clients = &clients[0];
}

static void per_user_then_server_wide(void **state)
{
    (void)state;
    setup_clients();
    char why[256];
    assert_int_equal(bulk_admit(&clients[0], why, sizeof why), 0);
    clients[0].import = (struct import *)1;
    clients[0].export = (struct export *)1; /* an export counts like an import */
    assert_int_equal(bulk_admit(&clients[1], why, sizeof why), -EBUSY);
    assert_non_null(strstr(why, "bulk.max_per_user = 2"));
    assert_int_equal(bulk_admit(&clients[2], why, sizeof why), 0);
    clients[2].import = (struct import *)1;
    assert_int_equal(bulk_admit(&clients[3], why, sizeof why), -EBUSY);
    assert_non_null(strstr(why, "bulk.max_concurrent = 3"));
    clients[0].export = NULL; /* one ends: room again */
    assert_int_equal(bulk_admit(&clients[3], why, sizeof why), 0);
}

static void work_mem_is_shared_out(void **state)
{
    (void)state;
    setup_clients();
    srv.cfg.bulk_max_concurrent = 4; /* the defaults: 512M / 4, the former fixed 128MB */
    assert_int_equal(bulk_work_mem_kb(&srv), 128 * 1024);
    srv.cfg.bulk_max_concurrent = 8;
    assert_int_equal(bulk_work_mem_kb(&srv), 64 * 1024);
    srv.cfg.bulk_max_concurrent = 1000;
    assert_int_equal(bulk_work_mem_kb(&srv), 4 * 1024); /* the floor */
}

static void staged_row_is_escaped(void **state)
{
    (void)state;
    struct cr_strbuf b;
    cr_strbuf_init(&b, 4096);
    struct store_import_row row = {
        .seq = 3,
        .line = 7,
        .phones = "+33612345678" STORE_IMPORT_SEP "+33145678910",
        .types = "mobile" STORE_IMPORT_SEP "home",
        .pcols = "2" STORE_IMPORT_SEP "5",
        .fields_json = "{\"a\":\"b\"}",
        .consent = true,
        .dkey = NULL,
    };
    row.texts[0] = "Dupr\xc3\xa9\tX\\Y";
    row.texts[1] = "multi\r\nligne";
    assert_int_equal(store_import_row_add(&b, &row), 0);
    assert_string_equal(cr_strbuf_text(&b),
                        "3\t7\t+33612345678\x1f+33145678910\tmobile\x1fhome\t2\x1f"
                        "5\t\t"
                        "Dupr\xc3\xa9\\tX\\\\Y\t"
                        "multi\\r\\nligne\t\t\t\t\t\t\t\t\t{\"a\":\"b\"}\tt\t\\N\n");
    cr_strbuf_free(&b);
    /* over the chunk's maximum: an error, not a cut row */
    cr_strbuf_init(&b, 16);
    assert_int_equal(store_import_row_add(&b, &row), -E2BIG);
    cr_strbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(per_user_then_server_wide),
        cmocka_unit_test(work_mem_is_shared_out),
        cmocka_unit_test(staged_row_is_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
