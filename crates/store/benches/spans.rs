//! What writing a batch of spans costs in the store (filled in by the issue-14 work).

fn main() {
    divan::main();
}
