fn main() {
    std::process::exit(mqbench::cli::main(std::env::args_os().collect()));
}
