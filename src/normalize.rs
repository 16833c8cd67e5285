//! How people write the same e-mail, phone number or name differently: the normal forms `gdpr.find_subjects`
//! compares (IMMUTABLE SQL functions, so that expression indexes serve them) and the folding `gdpr.locate`
//! searches free text in.
