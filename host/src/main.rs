/// mimalloc rather than the C library's allocator: the controller and the simulator build and
/// drop many small JSON values per request, and glibc's malloc spent a quarter of the CPU of
/// `flotilla bench workflows` on them (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Without transparent huge pages: mimalloc asks for them for its arenas, and with them a
    // controller running 1,000 workflows held 213 MB instead of 115 (docs/performance.md).
    // What may fail here is only a kernel without the setting; the process runs either way.
    // Processes it starts (credential plugins, with --allow-exec-credentials) inherit it.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    flotilla::cli::main()
}
