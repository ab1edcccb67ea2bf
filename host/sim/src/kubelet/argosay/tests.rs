use super::*;

/// Runs a program to the end; returns (stdout, stderr, total sleep, exit code).
fn run_in(fs: &mut PodFs, program: Program) -> (String, String, Duration, i32) {
    let mut exec = Execution::new(program);
    let (mut out, mut err, mut slept) = (String::new(), String::new(), Duration::ZERO);
    for _ in 0..1000 {
        match exec.next("main", fs) {
            Action::Output(LogStream::Stdout, t) => out.push_str(&t),
            Action::Output(LogStream::Stderr, t) => err.push_str(&t),
            Action::Sleep(d) => slept += d,
            Action::Exit(code) => {
                // Exit is sticky.
                assert_eq!(exec.next("main", fs), Action::Exit(code));
                return (out, err, slept, code);
            }
        }
    }
    panic!("program did not exit");
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn run_cmd(image: &str, command: &[&str], args: &[&str]) -> (String, String, Duration, i32) {
    let mut fs = PodFs::default();
    let program = program_for(image, &strs(command), &strs(args), &BTreeMap::new()).unwrap();
    run_in(&mut fs, program)
}

fn sh(script: &str) -> (String, String, Duration, i32) {
    run_cmd("alpine:3.20", &["sh", "-c"], &[script])
}

fn not_emulated(image: &str, command: &[&str], args: &[&str]) -> String {
    program_for(image, &strs(command), &strs(args), &BTreeMap::new())
        .unwrap_err()
        .message
}

#[test]
fn image_kinds() {
    assert_eq!(image_kind("argoproj/argosay:v2"), ImageKind::Argosay);
    assert_eq!(
        image_kind("quay.io/argoproj/argosay:v2@sha256:abc"),
        ImageKind::Argosay
    );
    assert_eq!(
        image_kind("docker.io/argoproj/argosay:v1"),
        ImageKind::Cowsay
    );
    assert_eq!(image_kind("docker/whalesay"), ImageKind::Whalesay);
    assert_eq!(image_kind("docker/whalesay:latest"), ImageKind::Whalesay);
    assert_eq!(image_kind("localhost:5000/python:3.12"), ImageKind::Other);
}

/// argosay:v2 is the shell script Argo publishes: `echo` to standard output (so a template's
/// `outputs.result`), to a file with a newline, `cat` of one file.
#[test]
fn argosay_echo_goes_to_stdout_or_a_file() {
    assert_eq!(
        run_cmd("argoproj/argosay:v2", &[], &[]),
        ("hello argo\n".into(), String::new(), Duration::ZERO, 0)
    );
    assert_eq!(
        run_cmd("argoproj/argosay:v2", &[], &["echo"]).0,
        "hello argo\n"
    );
    assert_eq!(
        run_cmd("argoproj/argosay:v2", &[], &["echo", "hi there"]).0,
        "hi there\n"
    );
    assert_eq!(
        run_cmd("argoproj/argosay:v2", &["/argosay"], &["echo", "x"]).0,
        "x\n"
    );

    let mut fs = PodFs::default();
    let write = program_for(
        "argoproj/argosay:v2",
        &[],
        &strs(&["echo", "out", "/tmp/a/b"]),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(
        run_in(&mut fs, write),
        (String::new(), String::new(), Duration::from_millis(100), 0)
    );
    assert_eq!(fs.read("main", "/tmp/a/b"), Some(&b"out\n"[..]));
    // Only the first file: the script runs `cat "$2"`.
    let cat = program_for(
        "argoproj/argosay:v2",
        &[],
        &strs(&["cat", "/tmp/a/b", "/tmp/a/b"]),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(run_in(&mut fs, cat).0, "out\n");
}

#[test]
fn argosay_errors_are_the_scripts() {
    // `case $#` has no branch for four words: nothing runs, and the script succeeds.
    assert_eq!(
        run_cmd("argoproj/argosay:v2", &[], &["echo", "a", "b", "c"]),
        (String::new(), String::new(), Duration::ZERO, 0)
    );
    assert_eq!(
        run_cmd("argoproj/argosay:v2", &[], &["garbage"]),
        (String::new(), String::new(), Duration::ZERO, 1)
    );
    let (_, err, _, code) = run_cmd("argoproj/argosay:v2", &[], &["cat", "/tmp/missing"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "cat: /tmp/missing: No such file or directory\n")
    );
    let (_, err, _, code) = run_cmd("argoproj/argosay:v2", &[], &["cat"]);
    assert_eq!(
        (code, err.as_str()),
        (2, "/argosay: 2: parameter not set\n")
    );
    let (_, err, _, code) = run_cmd("argoproj/argosay:v2", &[], &["sleep", "garbage"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "sleep: invalid time interval 'garbage'\n")
    );
    let (_, err, _, code) = run_cmd("argoproj/argosay:v2", &[], &["exit", "x"]);
    assert_eq!(
        (code, err.as_str()),
        (2, "/argosay: exit: Illegal number: x\n")
    );
    assert!(
        not_emulated("argoproj/argosay:v2", &[], &["sh", "/tmp/script"])
            .contains("(argosay sh runs a script file)")
    );
}

#[test]
fn argosay_exit_and_sleep() {
    assert_eq!(run_cmd("argoproj/argosay:v2", &[], &["exit"]).3, 0);
    assert_eq!(run_cmd("argoproj/argosay:v2", &[], &["exit", "1"]).3, 1);
    assert_eq!(run_cmd("argoproj/argosay:v2", &[], &["exit", "300"]).3, 44);
    assert_eq!(run_cmd("argoproj/argosay:v2", &[], &["exit", "-1"]).3, 2);
    // coreutils' sleep: plain seconds.
    assert_eq!(
        run_cmd("argoproj/argosay:v2", &[], &["sleep", "90"]).2,
        Duration::from_secs(90)
    );
    assert_eq!(
        run_cmd("argoproj/argosay:v2", &[], &["sleep", "1.5"]).2,
        Duration::from_millis(1500)
    );
}

#[test]
fn argosay_assert_contains_is_grep() {
    let mut fs = PodFs::default();
    fs.write("main", "/tmp/f", b"hello world\nbye\n", false);
    let run = |fs: &mut PodFs, args: &[&str]| {
        let program =
            program_for("argoproj/argosay:v2", &[], &strs(args), &BTreeMap::new()).unwrap();
        run_in(fs, program)
    };
    assert_eq!(
        run(&mut fs, &["assert_contains", "/tmp/f", "world"]),
        ("hello world\n".into(), String::new(), Duration::ZERO, 0)
    );
    assert_eq!(run(&mut fs, &["assert_contains", "/tmp/f", "nope"]).3, 1);
    let (_, err, _, code) = run(&mut fs, &["assert_contains", "/tmp/missing", "x"]);
    assert_eq!(
        (code, err.as_str()),
        (2, "grep: /tmp/missing: No such file or directory\n")
    );
    assert_eq!(run(&mut fs, &["assert_contains", "/tmp/f"]).3, 2);
}

/// argosay:v2 is built on argosay:v1 (Ubuntu): a shell, coreutils and cowsay.
#[test]
fn argosay_v2_has_a_shell_and_cowsay() {
    assert_eq!(
        run_cmd("argoproj/argosay:v2", &["sh", "-c"], &["echo hi && exit 3"]),
        ("hi\n".into(), String::new(), Duration::ZERO, 3)
    );
    let (out, _, _, code) = run_cmd("argoproj/argosay:v2", &["cowsay"], &["moo"]);
    assert_eq!(code, 0);
    assert!(out.contains("< moo >"), "{out}");
}

#[test]
fn cowsay_images() {
    let (out, _, _, code) = run_cmd("docker/whalesay", &["cowsay"], &["hello world"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(" _____________\n< hello world >\n"),
        "{out}"
    );
    assert!(out.contains("__/"));
    let (out, _, _, _) = run_cmd("argoproj/argosay:v1", &[], &[]);
    assert!(out.starts_with(" __\n<  >\n"), "{out}");
    assert!(out.contains("(oo)"));
    // No cowsay in other images.
    assert!(not_emulated("alpine", &["cowsay"], &["x"]).contains("cannot run \"cowsay x\""));
}

#[test]
fn plain_executables_without_a_shell() {
    assert_eq!(
        run_cmd("busybox", &["echo"], &["hello world"]).0,
        "hello world\n"
    );
    assert_eq!(run_cmd("busybox", &[], &["echo", "-n", "a", "b"]).0, "a b");
    assert_eq!(run_cmd("busybox", &["/bin/false"], &[]).3, 1);
    assert_eq!(
        run_cmd("busybox", &["sleep"], &["2"]).2,
        Duration::from_secs(2)
    );
    // Shell syntax is not interpreted without a shell.
    assert_eq!(
        run_cmd("busybox", &["echo"], &["a && b; c"]).0,
        "a && b; c\n"
    );
}

#[test]
fn not_emulated_commands_explain_themselves() {
    assert_eq!(
        not_emulated("python:3.12", &["python3", "main.py"], &[]),
        "simulated kubelet cannot run \"python3 main.py\" in image \"python:3.12\": only argosay, whalesay and simple sh -c scripts are emulated"
    );
    assert!(
        not_emulated("python:3.12", &[], &[])
            .starts_with("simulated kubelet cannot run the default command in image")
    );
    let message = not_emulated("alpine", &["sh", "-c"], &["ls | wc -l"]);
    assert!(
        message.ends_with("(unsupported shell syntax \"|\")"),
        "{message}"
    );
    let message = not_emulated("alpine", &["sh", "-c"], &["curl http://x"]);
    assert!(
        message.ends_with("(command \"curl\" is not emulated)"),
        "{message}"
    );
    assert!(not_emulated("alpine", &["sh"], &["script.sh"]).contains("\"sh script.sh\""));
}

#[test]
fn sh_echo_redirect_and_cat() {
    let mut fs = PodFs::default();
    let program = program_for(
        "alpine",
        &strs(&["sh", "-c"]),
        &strs(&["echo hello > /tmp/x; echo world >> /tmp/x\ncat /tmp/x"]),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(run_in(&mut fs, program).0, "hello\nworld\n");
    assert_eq!(fs.read("main", "/tmp/x"), Some(&b"hello\nworld\n"[..]));
    assert_eq!(
        sh("echo -n hi > /dev/null; echo err >/dev/stderr").1,
        "err\n"
    );
}

#[test]
fn sh_quotes_comments_and_variables() {
    let env = BTreeMap::from([
        ("NAME".to_owned(), "argo".to_owned()),
        ("SPACED".to_owned(), "a b".to_owned()),
    ]);
    let run = |script: &str| {
        let program = program_for("alpine", &strs(&["sh", "-c"]), &strs(&[script]), &env).unwrap();
        run_in(&mut PodFs::default(), program).0
    };
    assert_eq!(
        run("echo 'single  $NAME' \"double  $NAME ${NAME}\" un\\ quoted # comment"),
        "single  $NAME double  argo argo un quoted\n"
    );
    assert_eq!(run("echo \"$SPACED\" $UNSET x \"\" y"), "a b x  y\n");
    assert_eq!(run("echo cost: $ 5"), "cost: $ 5\n");
    assert!(
        program_for(
            "alpine",
            &strs(&["sh", "-c"]),
            &strs(&["echo $SPACED"]),
            &env
        )
        .is_err()
    );
    assert!(
        program_for(
            "alpine",
            &strs(&["sh", "-c"]),
            &strs(&["echo $(date)"]),
            &env
        )
        .is_err()
    );
    assert!(program_for("alpine", &strs(&["sh", "-c"]), &strs(&["echo $1"]), &env).is_err());
}

#[test]
fn sh_and_or_lists_and_exit() {
    assert_eq!(
        sh("true && echo yes || echo no"),
        ("yes\n".into(), String::new(), Duration::ZERO, 0)
    );
    assert_eq!(sh("false && echo yes || echo no").0, "no\n");
    assert_eq!(sh("false; echo after").0, "after\n");
    assert_eq!(sh("false").3, 1);
    assert_eq!(
        sh("echo a; exit 3; echo b"),
        ("a\n".into(), String::new(), Duration::ZERO, 3)
    );
    assert_eq!(sh("false; exit").3, 1);
    assert_eq!(sh("exit 256").3, 0);
    assert_eq!(
        sh("sleep 1; sleep 0.5s 1m").2,
        Duration::from_millis(61_500)
    );
    assert_eq!(sh("").3, 0);
    let (_, err, _, code) = sh("cat /nope && echo never");
    assert_eq!(
        (err.as_str(), code),
        ("cat: /nope: No such file or directory\n", 1)
    );
    assert_eq!(sh("cat /nope || echo handled").0, "handled\n");
}

#[test]
fn sh_rejects_what_it_cannot_do() {
    for script in [
        "echo a | cat",
        "sleep 1 &",
        "echo a 2>/dev/null",
        "echo a >&2",
        "(echo a)",
        "echo `date`",
        "ls *.txt",
        "X=1 echo a",
        "while true; do echo a; done",
        "if true; then echo a",
        "if true; echo a; fi",
        "true && if true; then echo a; fi",
        "echo [x]",
        "[ -d /tmp ]",
        "test -f a b",
        "echo $((1 / 0))",
        "echo $((2 ** 3))",
        "echo $(date)",
        "echo -e 'a\\nb'",
        "echo 'a\\nb'",
        "echo a &&",
        "&& echo a",
        "echo a;; echo b",
        "echo 'unterminated",
        "cat < /tmp/x",
        "sleep",
        "sleep forever",
        "exit -1",
    ] {
        assert!(
            program_for(
                "alpine",
                &strs(&["sh", "-c"]),
                &strs(&[script]),
                &BTreeMap::new()
            )
            .is_err(),
            "{script} should not be emulated"
        );
    }
}

#[test]
fn redirect_creates_empty_file_for_silent_commands() {
    let mut fs = PodFs::default();
    let program = program_for(
        "ubuntu",
        &strs(&["bash", "-c"]),
        &strs(&["true > /tmp/empty"]),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(run_in(&mut fs, program).3, 0);
    assert_eq!(fs.read("main", "/tmp/empty"), Some(&b""[..]));
}

#[test]
fn flotillas_executor_wrapper_runs_what_it_wraps() {
    let wrapped = run_cmd(
        "argoproj/argosay:v2",
        &[
            "/var/run/argo/flotilla-executor",
            "run",
            "--",
            "/argosay",
            "echo",
            "hi",
        ],
        &[],
    );
    assert_eq!(
        wrapped,
        run_cmd("argoproj/argosay:v2", &["/argosay", "echo", "hi"], &[])
    );
    let install = run_cmd(
        "ghcr.io/flotilla-wf/flotilla:latest",
        &[
            "/bin/flotilla-executor",
            "install",
            "/var/run/argo/flotilla-executor",
        ],
        &[],
    );
    assert_eq!(install.3, 0, "the executor's init container succeeds");
}

/// What Argo's example and test workflows do in `sh -c`: conditionals on files and values,
/// `touch`, arithmetic, `exit $VAR`.
#[test]
fn sh_conditionals_tests_touch_and_arithmetic() {
    let env = BTreeMap::from([
        ("CODE".to_owned(), "3".to_owned()),
        ("N".to_owned(), "4".to_owned()),
    ]);
    let run = |fs: &mut PodFs, script: &str| {
        let program = program_for("alpine", &strs(&["sh", "-c"]), &strs(&[script]), &env)
            .unwrap_or_else(|e| panic!("{script}: {}", e.message));
        run_in(fs, program)
    };
    let mut fs = PodFs::default();
    let script = "if [ -f /tmp/done ]; then echo again; else touch /tmp/done && echo first; fi";
    assert_eq!(run(&mut fs, script).0, "first\n");
    assert_eq!(fs.read("main", "/tmp/done"), Some(&b""[..]));
    assert_eq!(run(&mut fs, script).0, "again\n");
    // `-s`: exists and is not empty; `!` negates.
    assert_eq!(
        run(&mut fs, "if test ! -s /tmp/done; then echo empty; fi").0,
        "empty\n"
    );
    // elif, string and integer comparisons, a branch's status, no branch = status 0.
    let script = "if [ \"$N\" = 3 ]; then echo three; elif [ $N -gt 3 ]; then echo more; exit 5; else echo less; fi";
    assert_eq!(run(&mut fs, script).0, "more\n");
    assert_eq!(run(&mut fs, script).3, 5);
    assert_eq!(run(&mut fs, "if false; then echo no; fi").3, 0);
    assert_eq!(
        run(&mut fs, "if false; then echo no; fi && echo after").0,
        "after\n"
    );
    // Nested ifs.
    assert_eq!(
        run(
            &mut fs,
            "if true; then if false; then echo a; else echo b; fi; echo c; fi"
        )
        .0,
        "b\nc\n"
    );
    assert_eq!(
        run(
            &mut fs,
            "echo $(( (N + 2) * 3 % 7 )) $((N > 3)) $(($CODE - 10))"
        )
        .0,
        "4 1 -7\n"
    );
    assert_eq!(run(&mut fs, "exit $CODE").3, 3);
    assert_eq!(
        run(&mut fs, "mkdir -p /tmp/out && echo made > /tmp/out/x").3,
        0
    );
    assert_eq!(fs.read("main", "/tmp/out/x"), Some(&b"made\n"[..]));
}

/// What a pod's script may throw at the emulation: many negations, sleeps past any clock.
#[test]
fn sh_bounds_negations_and_sleeps() {
    let many = vec!["!"; 100_001].join(" ");
    // `a` holds; an odd count of `!`s negates it, an even count does not.
    assert_eq!(sh(&format!("test {many} a")).3, 1);
    assert_eq!(sh(&format!("test ! {many} a")).3, 0);
    assert_eq!(
        sh("sleep 10000000000000000000 10000000000000000000").2,
        Duration::MAX
    );
}
