//! In-database tests (`cargo pgrx test`): the erasure engine against small schemas built per test.
//! The SQL contract, error codes and security rules are covered by tests/pg_regress.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn run(sql: &str) {
        Spi::run(sql).expect("test setup SQL");
    }

    fn count(sql: &str) -> i64 {
        Spi::get_one::<i64>(sql).expect("count query").unwrap_or(-1)
    }

    fn guest_schema() {
        run("CREATE TABLE guests (id int PRIMARY KEY, email text UNIQUE, name text);
             CREATE TABLE sessions (id bigint PRIMARY KEY, guest_id bigint REFERENCES guests, note text);
             CREATE TABLE messages (id int PRIMARY KEY, session_id bigint REFERENCES sessions, body text);
             INSERT INTO guests VALUES (1, 'a@x.cz', 'Ann'), (2, 'b@x.cz', 'Bob');
             INSERT INTO sessions VALUES (10, 1, 'ann s1'), (11, 1, 'ann s2'), (20, 2, 'bob s1');
             INSERT INTO messages VALUES (100, 10, 'hi from a@x.cz'), (101, 11, 'x'), (200, 20, 'bob msg');
             SELECT gdpr.declare_subject('guest', 'guests');
             SELECT gdpr.declare_pii('guests', 'email', 'fake_email');
             SELECT gdpr.declare_pii('guests', 'name', 'fake_name');
             SELECT gdpr.declare_pii('sessions', 'note', 'null');
             SELECT gdpr.declare_pii('messages', 'body', 'constant', '{\"value\": \"-\"}');");
    }

    #[pg_test]
    fn plan_lists_reachable_tables_breadth_first() {
        guest_schema();
        let plan = crate::cache::plan_for("guest").expect("plan");
        let names: Vec<&str> = plan
            .tables
            .iter()
            .map(|t| t.table.display.as_str())
            .collect();
        assert_eq!(
            names,
            vec!["public.guests", "public.sessions", "public.messages"]
        );
        assert_eq!(plan.edges.len(), 2);
    }

    #[pg_test]
    fn erasure_changes_only_the_subjects_rows() {
        guest_schema();
        let before = Spi::get_one::<String>(
            "SELECT md5(string_agg(g::text, ',' ORDER BY id)) FROM guests g WHERE id <> 1",
        )
        .unwrap();
        let report = Spi::get_one::<pgrx::JsonB>("SELECT gdpr.anonymize_guest(1)")
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(report["total_rows"], 5);
        assert_eq!(
            count("SELECT count(*) FROM guests WHERE email = 'a@x.cz' OR name = 'Ann'"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM sessions WHERE note IS NOT NULL AND guest_id = 1"),
            0
        );
        assert_eq!(count("SELECT count(*) FROM messages WHERE body = '-'"), 2);
        assert_eq!(
            count("SELECT count(*) FROM messages WHERE body = 'bob msg'"),
            1
        );
        let after = Spi::get_one::<String>(
            "SELECT md5(string_agg(g::text, ',' ORDER BY id)) FROM guests g WHERE id <> 1",
        )
        .unwrap();
        assert_eq!(before, after);
    }

    #[pg_test]
    fn dry_run_changes_nothing_and_counts_the_same() {
        guest_schema();
        let dry = Spi::get_one::<pgrx::JsonB>("SELECT gdpr.anonymize_guest(1, dry_run => true)")
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(
            count("SELECT count(*) FROM guests WHERE email = 'a@x.cz'"),
            1
        );
        let real = Spi::get_one::<pgrx::JsonB>("SELECT gdpr.anonymize_guest(1)")
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(dry["total_rows"], real["total_rows"]);
        assert_eq!(
            dry["tables"].as_array().map(Vec::len),
            real["tables"].as_array().map(Vec::len)
        );
    }

    #[pg_test(error = "gdpr: guest 42 not found in public.guests")]
    fn unknown_subject_is_an_error() {
        guest_schema();
        Spi::run("SELECT gdpr.anonymize_guest(42)").unwrap();
    }

    #[pg_test]
    fn plan_is_rebuilt_after_a_declaration_changes() {
        guest_schema();
        let before = crate::cache::plan_for("guest").expect("plan");
        assert!(before.tables[0].changed.contains(&"name".to_string()));
        run("SELECT gdpr.declare_pii('guests', 'name', 'keep')");
        // The relcache invalidation queued by the config-table trigger is processed at the next command.
        run("SELECT 1");
        let after = crate::cache::plan_for("guest").expect("plan");
        assert!(!after.tables[0].changed.contains(&"name".to_string()));
    }

    #[pg_test]
    fn delete_order_is_children_first() {
        guest_schema();
        run("SELECT gdpr.declare_erase_action('sessions', 'delete');
             SELECT gdpr.declare_erase_action('messages', 'delete');");
        let plan = crate::cache::plan_for("guest").expect("plan");
        let order: Vec<&str> = plan
            .delete_order
            .iter()
            .map(|i| plan.tables[*i].table.display.as_str())
            .collect();
        assert_eq!(order, vec!["public.messages", "public.sessions"]);
    }
}
