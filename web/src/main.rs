//! The voter app's entry point: renders [`web::App`] into the page body.

fn main() {
    yew::Renderer::<web::App>::new().render();
}
