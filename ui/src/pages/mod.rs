pub mod form;
pub mod home;
pub mod login;
pub mod position;
pub mod records;
pub mod settings;
pub mod signing;
pub mod sites;
