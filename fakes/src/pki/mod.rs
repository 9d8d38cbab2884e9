//! Certificates: the JPKI-like CA, the implementing body's client-certificate CA, server
//! certificates for the fakes.
