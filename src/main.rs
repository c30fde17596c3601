//! The `telemit` binary; see `telemit --help`.

mod cli;

fn main() {
    let cli = cli::parse();
    std::process::exit(cli::run(cli));
}
