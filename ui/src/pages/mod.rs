pub mod form;
pub mod home;
pub mod login;
pub mod records;
pub mod sites;
