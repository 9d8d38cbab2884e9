pub mod onsim_image;
