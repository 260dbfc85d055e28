//! Symbolication of JavaScript stack traces with the source maps a project uploaded: each
//! minified frame is mapped to the file, line, column and function people wrote.

pub mod bundle;
