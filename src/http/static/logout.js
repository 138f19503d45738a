// Front-Channel Logout: once every client's logout iframe has loaded (or after a few
// seconds at most), continue to the post-logout redirect URI. Kept out of the page so
// the Content-Security-Policy can forbid inline script.
document.addEventListener("DOMContentLoaded", function () {
  var next = document.getElementById("continue");
  if (!next) { return; }
  var frames = document.querySelectorAll("iframe.frontchannel");
  var pending = frames.length;
  var go = function () { window.location.assign(next.href); };
  if (pending === 0) { go(); return; }
  frames.forEach(function (f) {
    f.addEventListener("load", function () { pending -= 1; if (pending === 0) { go(); } });
  });
  setTimeout(go, 3000);
});
