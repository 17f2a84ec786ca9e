//! Placeholder until the sandbox module lands.
use std::path::Path;
#[derive(Default)]
pub struct SandboxOptions {
    pub users: Vec<UserSpec>,
}
pub struct UserSpec;
impl std::str::FromStr for UserSpec {
    type Err = String;
    fn from_str(_: &str) -> Result<Self, String> {
        Ok(UserSpec)
    }
}
pub fn create(_dir: &Path, _o: &SandboxOptions) -> anyhow::Result<String> {
    anyhow::bail!("todo")
}
pub fn boot(_dir: &Path) -> anyhow::Result<String> {
    anyhow::bail!("todo")
}
