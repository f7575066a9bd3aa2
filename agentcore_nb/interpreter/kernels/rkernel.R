# The R kernel that runs *inside* the sandbox: one persistent Rscript process per session.
#
# Same framing as pykernel.py: requests on fd IN ("EXEC" + 12-digit length + 12-digit sequence
# number + payload), replies on fd OUT (12-digit length + JSON with "seq"). Code is evaluated
# expression by expression in the global environment, so variables persist; visible values are printed like at the R console; plots are captured as PNG.
# Base R has no JSON or base64 encoder, so this file carries tiny ones. The host enforces every
# limit from outside.

.ac <- new.env()
local({
  args <- commandArgs(trailingOnly = TRUE)
  .ac$inp <- file(sprintf("/dev/fd/%s", args[1]), open = "rb")
  .ac$out <- file(sprintf("/dev/fd/%s", args[2]), open = "wb")
  .ac$n <- 0L
  .ac$b64chars <- strsplit("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "")[[1]]
})

.ac$json_str <- function(s) {
  s <- enc2utf8(paste(as.character(s), collapse = "\n"))
  s <- gsub("\\", "\\\\", s, fixed = TRUE)
  s <- gsub("\"", "\\\"", s, fixed = TRUE)
  s <- gsub("\n", "\\n", s, fixed = TRUE)
  s <- gsub("\r", "\\r", s, fixed = TRUE)
  s <- gsub("\t", "\\t", s, fixed = TRUE)
  s <- gsub("[\001-\037]", " ", s)
  paste0("\"", s, "\"")
}

.ac$b64 <- function(bytes) {
  n <- length(bytes)
  if (n == 0) return("")
  pad <- (3 - n %% 3) %% 3
  v <- as.integer(c(bytes, as.raw(rep(0L, pad))))
  m <- matrix(v, nrow = 3)
  w <- m[1, ] * 65536 + m[2, ] * 256 + m[3, ]
  idx <- rbind(w %/% 262144, (w %/% 4096) %% 64, (w %/% 64) %% 64, w %% 64) + 1
  out <- .ac$b64chars[idx]
  if (pad > 0) out[(length(out) - pad + 1):length(out)] <- "="
  paste(out, collapse = "")
}

.ac$send <- function(body) {
  bytes <- charToRaw(enc2utf8(body))
  writeBin(c(charToRaw(sprintf("%012d", length(bytes))), bytes), .ac$out)
  flush(.ac$out)
}

.ac$error_json <- function(err) {
  if (is.null(err)) return("null")
  paste0("{\"name\":", .ac$json_str(err$name), ",\"message\":", .ac$json_str(err$message),
         ",\"traceback\":", .ac$json_str(err$traceback), "}")
}

.ac$execute <- function(code, seq) {
  .ac$n <- .ac$n + 1L
  plotdir <- file.path(tempdir(), paste0("plots", .ac$n))
  dir.create(plotdir, showWarnings = FALSE)
  options(device = function(...) grDevices::png(file.path(plotdir, "plot%03d.png"), type = "cairo"))
  .ac$calls <- NULL
  err <- tryCatch({
    exprs <- parse(text = code, keep.source = FALSE)
    withCallingHandlers({
      for (e in exprs) {
        r <- withVisible(eval(e, envir = globalenv()))
        if (r$visible) print(r$value)
      }
      NULL
    },
    warning = function(w) {
      message("Warning: ", conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    error = function(e) .ac$calls <- sys.calls())
  },
  error = function(e) list(name = class(e)[1], message = conditionMessage(e)),
  interrupt = function(e) list(name = "interrupt", message = "interrupted"))
  if (!is.null(err)) {
    calls <- vapply(.ac$calls, function(cl) paste(deparse(cl, nlines = 1L), collapse = ""), "")
    start <- max(c(0L, which(startsWith(calls, "eval(e, envir = globalenv())"))))
    keep <- if (start > 0 && start < length(calls) - 1L) calls[(start + 1L):(length(calls) - 1L)] else character()
    keep <- keep[!startsWith(keep, ".handleSimpleError") & !startsWith(keep, "h(simpleError")]
    err$traceback <- paste(c(keep, paste0("Error: ", err$message)), collapse = "\n")
  }
  grDevices::graphics.off()
  results <- character()
  for (f in sort(list.files(plotdir, full.names = TRUE))) {
    png <- .ac$b64(readBin(f, "raw", file.info(f)$size))
    results <- c(results, paste0("{\"data\":{\"image/png\":\"", png, "\",\"text/plain\":\"<R plot>\"},\"metadata\":{}}"))
  }
  unlink(plotdir, recursive = TRUE)
  flush(stdout())
  flush(stderr())
  paste0("{\"seq\":", seq, ",\"ok\":", if (is.null(err)) "true" else "false", ",\"error\":", .ac$error_json(err),
         ",\"results\":[", paste(results, collapse = ","), "]}")
}

.ac$send(paste0("{\"ready\":true,\"language\":\"r\",\"version\":", .ac$json_str(R.version.string), "}"))
repeat {
  hdr <- tryCatch(readBin(.ac$inp, "raw", 28L), interrupt = function(e) NULL)
  if (is.null(hdr)) next  # a late interrupt from the host while idle: ignore it
  if (length(hdr) < 28L) quit(save = "no", status = 0)
  size <- as.integer(rawToChar(hdr[5:16]))
  seq <- as.numeric(rawToChar(hdr[17:28]))
  code <- if (size > 0) rawToChar(readBin(.ac$inp, "raw", size)) else ""
  Encoding(code) <- "UTF-8"
  if (rawToChar(hdr[1:4]) == "EXEC") {
    .ac$send(.ac$execute(code, format(seq, scientific = FALSE)))
  } else {
    .ac$send(paste0("{\"seq\":", format(seq, scientific = FALSE), ",\"ok\":true,\"error\":null,\"results\":[]}"))
  }
}
