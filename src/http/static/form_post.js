// OAuth 2.0 Form Post Response Mode: submit the response to the client as soon as the
// page loads. Kept out of the page so the Content-Security-Policy can forbid inline script.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("form_post");
  if (form) { form.submit(); }
});
