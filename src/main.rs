//! `ledger`: the command-line interface of audit-ledger. Parsing, calling the library, printing
//! and exit codes (0 ok, 1 a verification or gate said no, 2 usage / input / I/O error).

#![forbid(unsafe_code)]

mod cli;

fn main() {
    std::process::exit(cli::main());
}
