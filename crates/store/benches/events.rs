//! What writing a batch of events costs in the store (filled in by the issue-14 work).

fn main() {
    divan::main();
}
