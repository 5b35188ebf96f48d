use crate::helpers::Sandbox;

const HEADER: &str = "name,email,phone,mobile,organization,external_id,role,tags\n";

#[test]
fn bad_rows_are_reported_by_line_and_the_rest_imported() {
    let sandbox = Sandbox::new();
    sandbox.create_user("end-user", "Existing", "taken@example.com");
    let file = sandbox.write(
        "users.csv",
        &format!(
            "{HEADER}\
             Ada,ada@example.com,+1 513 555 7611,,Acme,crm-1,agent,\"vip, gold\"\n\
             Bob,not-an-email,,,,,,\n\
             Cy,cy@example.com,,+49 171 1234567,ACME,,,\n\
             Dee,taken@example.com,,,,,,\n\
             Eve,ada@example.com,,,,,,\n\
             Fay,fay@example.com,,,,,admin-ish,\n\
             Gus,gus@example.com\n"
        ),
    );
    let out = sandbox.run(&["import", "users", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "some rows rejected: {out:?}");
    assert_eq!(
        out.stdout,
        "line 3: email: `not-an-email` is not an e-mail address\n\
         line 5: email: is already used by another user\n\
         line 6: email: appears twice in this import\n\
         line 7: role: `admin-ish` is not one of end-user, agent, admin\n\
         line 8: has 2 fields, but the header has 8\n\
         imported 2 users, rejected 5\n"
    );

    // Imported rows are real users: they can be given tokens; rejected ones do not exist.
    for email in ["ada@example.com", "cy@example.com"] {
        sandbox.run(&["token", "create", "--email", email]).success();
    }
    for email in ["fay@example.com", "gus@example.com"] {
        sandbox.run(&["token", "create", "--email", email]).failure();
    }
}

#[test]
fn a_clean_file_exits_zero_and_a_second_import_rejects_every_row() {
    let sandbox = Sandbox::new();
    let mut csv = String::from("email,name,organization\n");
    for i in 0..50 {
        csv.push_str(&format!("user{i}@example.com,User {i},Org {}\n", i % 3));
    }
    let file = sandbox.write("users.csv", &csv);
    let out = sandbox.run(&["import", "users", file.to_str().unwrap()]).success();
    assert_eq!(out.stdout, "imported 50 users, rejected 0\n");

    let out = sandbox.run(&["import", "users", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.starts_with("line 2: email: is already used by another user\n"), "{out:?}");
    assert!(out.stdout.ends_with("line 51: email: is already used by another user\nimported 0 users, rejected 50\n"));
}

#[test]
fn a_file_without_a_name_column_is_refused_before_anything_is_written() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("users.csv", "email,phone\nada@example.com,1\n");
    let out = sandbox.run(&["import", "users", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("there is no `name` column"), "{out:?}");
    assert_eq!(out.stdout, "");

    let out = sandbox.run(&["import", "users", "no-such-file.csv"]).failure();
    assert!(out.stderr.starts_with("error: cannot open no-such-file.csv"), "{out:?}");
}
