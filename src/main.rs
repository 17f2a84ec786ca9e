use clap::Parser;

fn main() {
    let cli = reenroll::cli::Cli::parse();
    std::process::exit(reenroll::app::main(cli));
}
