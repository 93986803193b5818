//! The `tool_args` target compiles the server binary's modules itself (a binary crate cannot
//! be a dependency). This writes `server_modules.rs` into OUT_DIR: every `mod x;` of
//! `../server/src/main.rs` (with the attributes above it) as `#[path = "<abs>"] mod x;`, so a
//! module added to the server needs no change here.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let src = manifest.join("../server/src").canonicalize().unwrap();
    let main_rs = src.join("main.rs");
    println!("cargo::rerun-if-changed={}", main_rs.display());
    let text = std::fs::read_to_string(&main_rs).unwrap();
    let mut out = String::new();
    let mut attributes = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("#[") {
            attributes.push(line.to_owned());
            continue;
        }
        let name = line
            .strip_prefix("pub ")
            .unwrap_or(line)
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'));
        if let Some(name) = name {
            let file = src.join(format!("{name}.rs"));
            let path = if file.exists() {
                file
            } else {
                src.join(name).join("mod.rs")
            };
            for a in &attributes {
                out.push_str(a);
                out.push('\n');
            }
            out.push_str(&format!(
                "#[path = {:?}]\nmod {name};\n",
                path.display().to_string()
            ));
        }
        attributes.clear();
    }
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("server_modules.rs");
    std::fs::write(dest, out).unwrap();
}
