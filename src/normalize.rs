//! How people write the same e-mail, phone number or name differently: the normal forms `gdpr.find_subjects`
//! compares (IMMUTABLE SQL functions, so that expression indexes serve them) and the folding `gdpr.locate`
//! searches free text in.
// TEMP stubs until the helper's branch is merged.
pub fn email(s: &str) -> Option<String> {
    Some(s.trim().to_lowercase())
}
pub fn identifier(s: &str) -> Option<String> {
    Some(s.trim().to_lowercase())
}
pub fn name(s: &str) -> Option<String> {
    Some(s.trim().to_lowercase())
}
pub fn phone(s: &str, _cc: &str) -> Option<String> {
    Some(s.to_string())
}
pub fn country_code(cc: &str) -> crate::error::Result<&str> {
    Ok(cc)
}
