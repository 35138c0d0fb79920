// The merchant console's optional camera scan (progressive enhancement): where the browser has a
// BarcodeDetector and a camera, a button reads the member's QR or barcode into the code field and
// submits the form. Without it (or without script) the button stays hidden and the field takes
// what a handheld scanner or a person types.
(function () {
  "use strict";
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) { return; }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("scan");
    var start = document.getElementById("scan-start");
    var video = document.getElementById("scan-video");
    var field = document.getElementById("redeem-code");
    if (!box || !start || !video || !field) { return; }
    box.hidden = false;
    start.addEventListener("click", function () {
      var detector = new window.BarcodeDetector({ formats: ["qr_code", "code_128", "ean_13"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        var stop = function () { stream.getTracks().forEach(function (t) { t.stop(); }); video.hidden = true; };
        var look = function () {
          detector.detect(video).then(function (found) {
            var digits = found.length ? String(found[0].rawValue).replace(/\D/g, "") : "";
            if (digits.length >= 18) {
              stop();
              field.value = digits.slice(-18);
              var next = field.form.querySelector("[name=points]");
              if (next && !next.value) { next.focus(); } else { field.form.requestSubmit(); }
            } else { window.requestAnimationFrame(look); }
          }).catch(function () { window.requestAnimationFrame(look); });
        };
        look();
      }).catch(function () { box.hidden = true; });
    });
  });
})();
