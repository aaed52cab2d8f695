//! `ledger`: the command-line interface of audit-ledger. Parsing, calling the library, printing
//! and exit codes (0 ok, 1 a verification or gate said no, 2 usage / input / I/O error).

#![forbid(unsafe_code)]

mod cli;

// Verification parses millions of small JSON values on all cores; glibc's allocator spends
// much of that time consolidating and locking, mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Most runs are short (an append, a sync, a gate): the 2 MiB pages mimalloc asks the kernel
    // for cost each process more to zero than they save. Failure changes nothing.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    std::process::exit(cli::main());
}
