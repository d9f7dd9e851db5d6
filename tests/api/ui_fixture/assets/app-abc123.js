document.getElementById("app").textContent = "fixture UI loaded";
