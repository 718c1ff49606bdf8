; lifecert kiosk: Windows installer (NSIS 3, 64-bit Unicode stub).
;
; Build it with installer/windows/build.sh, which cross-compiles lifecert.exe,
; stages every file under target/windows/stage and runs
;   makensis -INPUTCHARSET UTF8 -DVERSION=0.1.0 -DVERSION4=0.1.0.0 \
;            -DSTAGE=<stage dir> -DOUTFILE=<setup.exe> installer/windows/lifecert.nsi
; (this file is UTF-8: it holds the Simplified Chinese strings).
;
; What it installs (docs/windows.md has the details):
;   $PROGRAMFILES64\lifecert\   lifecert.exe, models\ (ONNX + manifest + licences),
;                               assets\voice\, license.txt, uninstall.exe
;   %ProgramData%\lifecert\     kiosk.toml (kept on upgrade; the new default is
;                               written next to it as kiosk.toml.new), and the
;                               kiosk's data (database, device key, logs), with an
;                               ACL that lets the kiosk account write there
;   Task Scheduler task "lifecert-kiosk": starts the kiosk at logon and again
;                               within a minute whenever it has exited (crash)
;   Start menu folder "lifecert", Add/Remove Programs entry
;
; Command line (also for silent installs with /S):
;   /KIOSKUSER=<account>  the standard account the kiosk runs as: only it gets
;                         write access to the data folder and the auto-start
;                         task fires only at its logon (default: any member of
;                         Users). Remembered for upgrades.
;   /NOAUTOSTART          do not register the auto-start task (developer PCs).
; Uninstaller: keeps %ProgramData%\lifecert (the unsent result queue) unless the
; user says otherwise; silently (/S) only with /PURGE.

!ifndef VERSION | VERSION4 | STAGE | OUTFILE
  !error "build with installer/windows/build.sh (VERSION, VERSION4, STAGE and OUTFILE must be defined)"
!endif

Unicode true
Target amd64-unicode
SetCompressor /SOLID lzma
ManifestDPIAware true
ManifestSupportedOS all
RequestExecutionLevel admin

!define APP "lifecert"
!define PUBLISHER "lifecert project"
!define APP_KEY "Software\lifecert"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\lifecert"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define TASK "lifecert-kiosk"
!define SID_SYSTEM "*S-1-5-18"
!define SID_ADMINS "*S-1-5-32-544"
!define SID_USERS "*S-1-5-32-545"

Name "lifecert ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\lifecert"
InstallDirRegKey HKLM "${APP_KEY}" "InstallDir"
ShowInstDetails show
ShowUninstDetails show
BrandingText "lifecert ${VERSION}"

VIProductVersion "${VERSION4}"
VIAddVersionKey /LANG=0 "ProductName" "lifecert"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileDescription" "lifecert kiosk installer"
VIAddVersionKey /LANG=0 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=0 "LegalCopyright" "MIT OR Apache-2.0"

!include MUI2.nsh
!include LogicLib.nsh
!include FileFunc.nsh
!include WordFunc.nsh
!include WinVer.nsh
!include x64.nsh
!include Sections.nsh

Var KioskUser    ; /KIOSKUSER= (or the remembered one); "" = any member of Users
Var Purge        ; uninstaller: 1 = also delete %ProgramData%\lifecert
Var DataDir      ; %ProgramData%\lifecert

; ---------------------------------------------------------------- pages
!define MUI_ABORTWARNING
!define MUI_UNABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!define MUI_FINISHPAGE_TEXT "$(FinishText)"
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_LICENSE "${STAGE}\license.txt"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

; The first language is the default when Windows' UI language matches neither.
!insertmacro MUI_LANGUAGE "SimpChinese"
!insertmacro MUI_LANGUAGE "English"

; ---------------------------------------------------------------- strings
LangString SecProgramName ${LANG_SIMPCHINESE} "lifecert 自助认证终端"
LangString SecProgramName ${LANG_ENGLISH} "lifecert kiosk"
LangString SecProgramDesc ${LANG_SIMPCHINESE} "程序、人脸模型、语音提示和默认配置 (%ProgramData%\lifecert\kiosk.toml)。"
LangString SecProgramDesc ${LANG_ENGLISH} "The program, face models, voice prompts and the default configuration (%ProgramData%\lifecert\kiosk.toml)."
LangString SecAutoName ${LANG_SIMPCHINESE} "开机自动进入自助终端模式"
LangString SecAutoName ${LANG_ENGLISH} "Start the kiosk automatically"
LangString SecAutoDesc ${LANG_SIMPCHINESE} "登录后自动全屏启动，程序退出或崩溃后一分钟内自动重新启动（任务计划程序）。开发用电脑请取消勾选。"
LangString SecAutoDesc ${LANG_ENGLISH} "Starts the kiosk full screen at logon and restarts it within a minute after it exits or crashes (Task Scheduler). Untick on development PCs."
LangString ShortKiosk ${LANG_SIMPCHINESE} "lifecert 自助终端"
LangString ShortKiosk ${LANG_ENGLISH} "lifecert kiosk"
LangString ShortWindowed ${LANG_SIMPCHINESE} "lifecert（窗口模式）"
LangString ShortWindowed ${LANG_ENGLISH} "lifecert (windowed)"
LangString ShortData ${LANG_SIMPCHINESE} "配置和数据文件夹"
LangString ShortData ${LANG_ENGLISH} "Configuration and data folder"
LangString ShortUninstall ${LANG_SIMPCHINESE} "卸载 lifecert"
LangString ShortUninstall ${LANG_ENGLISH} "Uninstall lifecert"
LangString NeedWin10 ${LANG_SIMPCHINESE} "lifecert 需要 64 位 Windows 10 或更新版本。仍要继续吗？"
LangString NeedWin10 ${LANG_ENGLISH} "lifecert needs 64-bit Windows 10 or later. Continue anyway?"
LangString BadUser ${LANG_SIMPCHINESE} "/KIOSKUSER 的账户名无效（不能为空，也不能含有 $\" < > & : 等字符）。"
LangString BadUser ${LANG_ENGLISH} "The /KIOSKUSER account name is not valid (it must not be empty or contain $\" < > & : characters)."
LangString KeptConfig ${LANG_SIMPCHINESE} "保留现有的 kiosk.toml；新版默认配置已写入 kiosk.toml.new 供参考。"
LangString KeptConfig ${LANG_ENGLISH} "Kept the existing kiosk.toml; the new default is in kiosk.toml.new for reference."
LangString TaskFailed ${LANG_SIMPCHINESE} "无法创建计划任务，改用注册表 Run 项自动启动（崩溃后不会自动重启）。"
LangString TaskFailed ${LANG_ENGLISH} "Could not create the scheduled task; using the registry Run key instead (no restart after a crash)."
LangString AclFailed ${LANG_SIMPCHINESE} "设置数据文件夹权限失败 (icacls)。请按 docs/windows.md 手动设置，否则终端账户可能无法写入数据。"
LangString AclFailed ${LANG_ENGLISH} "Setting the data folder permissions failed (icacls). Set them by hand as docs/windows.md describes, or the kiosk account may not be able to write its data."
LangString FinishText ${LANG_SIMPCHINESE} "lifecert 已安装。$\r$\n$\r$\n部署前请编辑 %ProgramData%\lifecert\kiosk.toml（服务器地址、摄像头、读卡器和打印机端口，并用 lifecert hash-pin 替换演示用的管理员 PIN）。$\r$\n$\r$\n自动启动在下次登录时生效。"
LangString FinishText ${LANG_ENGLISH} "lifecert is installed.$\r$\n$\r$\nBefore deployment edit %ProgramData%\lifecert\kiosk.toml (server URL, camera, card reader and printer ports, and replace the demo staff PIN with lifecert hash-pin).$\r$\n$\r$\nThe auto-start takes effect at the next logon."
LangString AskPurge ${LANG_SIMPCHINESE} "是否同时删除 %ProgramData%\lifecert 中的配置和数据？$\r$\n$\r$\n其中包括尚未上传到服务器的认证结果队列、设备密钥和日志。删除后无法恢复。$\r$\n选择“否”将保留这些数据（推荐，重新安装后可继续使用）。"
LangString AskPurge ${LANG_ENGLISH} "Also delete the configuration and data in %ProgramData%\lifecert?$\r$\n$\r$\nThey include the queue of results not yet sent to the server, the device key and the logs. This cannot be undone.$\r$\nChoose No to keep them (recommended; a reinstall carries on with them)."
LangString KeptData ${LANG_SIMPCHINESE} "已保留数据文件夹："
LangString KeptData ${LANG_ENGLISH} "Kept the data folder: "

; ---------------------------------------------------------------- helpers
; Stops a running kiosk so its files can be replaced or removed.
!macro StopKioskBody
  nsExec::ExecToLog 'schtasks /end /tn "${TASK}"'
  Pop $0
  nsExec::ExecToLog 'taskkill /f /im lifecert.exe'
  Pop $0
  Sleep 500
!macroend

; Removes both kinds of auto-start (the task, and the Run value of the fallback).
!macro RemoveAutostartBody
  nsExec::ExecToLog 'schtasks /delete /tn "${TASK}" /f'
  Pop $0
  SetRegView 64
  DeleteRegValue HKLM "${RUN_KEY}" "${APP}"
!macroend

Function StopKiosk
  !insertmacro StopKioskBody
FunctionEnd
Function un.StopKiosk
  !insertmacro StopKioskBody
FunctionEnd
Function RemoveAutostart
  !insertmacro RemoveAutostartBody
FunctionEnd
Function un.RemoveAutostart
  !insertmacro RemoveAutostartBody
FunctionEnd

; Escapes & for the task XML (Windows paths cannot hold < > or ").
Function XmlEscape
  Exch $R0
  ${WordReplace} "$R0" "&" "&amp;" "+" $R0
  Exch $R0
FunctionEnd

; The account the kiosk runs as, for icacls: the /KIOSKUSER one or Users.
Function KioskPrincipal
  Push $R0
  ${If} $KioskUser != ""
    StrCpy $R0 "$KioskUser"
  ${Else}
    StrCpy $R0 "${SID_USERS}"
  ${EndIf}
  Exch $R0
FunctionEnd

; Fails (sets the error flag) when $KioskUser holds a character that would break
; the task XML or the icacls command line.
Function CheckKioskUser
  Push $R0
  Push $R1
  Push $R2
  StrLen $R1 $KioskUser
  ${If} $R1 = 0
    SetErrors
  ${EndIf}
  StrCpy $R2 0
  ${DoWhile} $R2 < $R1
    StrCpy $R0 $KioskUser 1 $R2
    ${If} $R0 == '"'
    ${OrIf} $R0 == "<"
    ${OrIf} $R0 == ">"
    ${OrIf} $R0 == "&"
    ${OrIf} $R0 == ":"
    ${OrIf} $R0 == "*"
    ${OrIf} $R0 == "%"
      SetErrors
    ${EndIf}
    IntOp $R2 $R2 + 1
  ${Loop}
  Pop $R2
  Pop $R1
  Pop $R0
FunctionEnd

; Restricts %ProgramData%\lifecert. An admin-created folder under ProgramData
; inherits "Users: create files / append" and "CREATOR OWNER: full", so a
; standard-user kiosk could not modify files the installer (or an admin running
; `lifecert register`) put there. Instead: SYSTEM and Administrators full
; control, the kiosk account (or Users) modify; existing files re-inherit that;
; kiosk.toml stays read-only for the kiosk account (it holds the staff PIN hash
; and the server address).
Function SetDataAcl
  Push $R0
  Call KioskPrincipal
  Pop $R0
  ClearErrors
  nsExec::ExecToLog 'icacls "$DataDir" /inheritance:r /grant:r ${SID_SYSTEM}:(OI)(CI)F ${SID_ADMINS}:(OI)(CI)F "$R0:(OI)(CI)M"'
  Pop $0
  ${If} $0 != 0
    DetailPrint "$(AclFailed)"
  ${EndIf}
  nsExec::ExecToLog 'icacls "$DataDir\*" /reset /T /C /Q'
  Pop $0
  ${If} ${FileExists} "$DataDir\kiosk.toml"
    nsExec::ExecToLog 'icacls "$DataDir\kiosk.toml" /inheritance:r /grant:r ${SID_SYSTEM}:F ${SID_ADMINS}:F "$R0:RX"'
    Pop $0
  ${EndIf}
  ${If} ${FileExists} "$DataDir\kiosk.toml.new"
    nsExec::ExecToLog 'icacls "$DataDir\kiosk.toml.new" /inheritance:r /grant:r ${SID_SYSTEM}:F ${SID_ADMINS}:F "$R0:RX"'
    Pop $0
  ${EndIf}
  Pop $R0
FunctionEnd

; Registers the Task Scheduler task; falls back to the HKLM Run key.
; Why a task and not the Run key: the Run key starts the kiosk once per logon
; and never again after a crash. The task fires at logon, then repeats every
; minute for as long as the session lasts; "IgnoreNew" skips the repeat while
; the kiosk is running, so a crashed or closed kiosk is back within a minute.
; RestartOnFailure covers a start that failed (e.g. during an upgrade).
Function InstallAutostart
  Push $R0
  Push $R1
  Push $R2
  Push "$INSTDIR"
  Call XmlEscape
  Pop $R1
  Push "$DataDir"
  Call XmlEscape
  Pop $R2
  InitPluginsDir
  FileOpen $R0 "$PLUGINSDIR\task.xml" w
  FileWriteUTF16LE /BOM $R0 '<?xml version="1.0" encoding="UTF-16"?>$\r$\n'
  FileWriteUTF16LE $R0 '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">$\r$\n'
  FileWriteUTF16LE $R0 '  <RegistrationInfo>$\r$\n'
  FileWriteUTF16LE $R0 '    <Author>lifecert installer</Author>$\r$\n'
  FileWriteUTF16LE $R0 '    <Description>Starts the lifecert kiosk at logon and again within a minute whenever it has exited.</Description>$\r$\n'
  FileWriteUTF16LE $R0 '  </RegistrationInfo>$\r$\n'
  FileWriteUTF16LE $R0 '  <Triggers>$\r$\n'
  FileWriteUTF16LE $R0 '    <LogonTrigger>$\r$\n'
  FileWriteUTF16LE $R0 '      <Repetition>$\r$\n'
  FileWriteUTF16LE $R0 '        <Interval>PT1M</Interval>$\r$\n'
  FileWriteUTF16LE $R0 '        <StopAtDurationEnd>false</StopAtDurationEnd>$\r$\n'
  FileWriteUTF16LE $R0 '      </Repetition>$\r$\n'
  FileWriteUTF16LE $R0 '      <Enabled>true</Enabled>$\r$\n'
  ${If} $KioskUser != ""
    FileWriteUTF16LE $R0 '      <UserId>$KioskUser</UserId>$\r$\n'
  ${EndIf}
  FileWriteUTF16LE $R0 '    </LogonTrigger>$\r$\n'
  FileWriteUTF16LE $R0 '  </Triggers>$\r$\n'
  FileWriteUTF16LE $R0 '  <Principals>$\r$\n'
  FileWriteUTF16LE $R0 '    <Principal id="Author">$\r$\n'
  ${If} $KioskUser != ""
    FileWriteUTF16LE $R0 '      <UserId>$KioskUser</UserId>$\r$\n'
    FileWriteUTF16LE $R0 '      <LogonType>InteractiveToken</LogonType>$\r$\n'
  ${Else}
    FileWriteUTF16LE $R0 '      <GroupId>S-1-5-32-545</GroupId>$\r$\n'
  ${EndIf}
  FileWriteUTF16LE $R0 '      <RunLevel>LeastPrivilege</RunLevel>$\r$\n'
  FileWriteUTF16LE $R0 '    </Principal>$\r$\n'
  FileWriteUTF16LE $R0 '  </Principals>$\r$\n'
  FileWriteUTF16LE $R0 '  <Settings>$\r$\n'
  FileWriteUTF16LE $R0 '    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>$\r$\n'
  FileWriteUTF16LE $R0 '    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>$\r$\n'
  FileWriteUTF16LE $R0 '    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>$\r$\n'
  FileWriteUTF16LE $R0 '    <AllowHardTerminate>true</AllowHardTerminate>$\r$\n'
  FileWriteUTF16LE $R0 '    <StartWhenAvailable>false</StartWhenAvailable>$\r$\n'
  FileWriteUTF16LE $R0 '    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>$\r$\n'
  FileWriteUTF16LE $R0 '    <IdleSettings>$\r$\n'
  FileWriteUTF16LE $R0 '      <StopOnIdleEnd>false</StopOnIdleEnd>$\r$\n'
  FileWriteUTF16LE $R0 '      <RestartOnIdle>false</RestartOnIdle>$\r$\n'
  FileWriteUTF16LE $R0 '    </IdleSettings>$\r$\n'
  FileWriteUTF16LE $R0 '    <AllowStartOnDemand>true</AllowStartOnDemand>$\r$\n'
  FileWriteUTF16LE $R0 '    <Enabled>true</Enabled>$\r$\n'
  FileWriteUTF16LE $R0 '    <Hidden>false</Hidden>$\r$\n'
  FileWriteUTF16LE $R0 '    <RunOnlyIfIdle>false</RunOnlyIfIdle>$\r$\n'
  FileWriteUTF16LE $R0 '    <WakeToRun>false</WakeToRun>$\r$\n'
  ; PT0S = no time limit (the default of 72 hours would end the kiosk).
  FileWriteUTF16LE $R0 '    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>$\r$\n'
  ; 4 = normal priority (the task default, 7, is below normal).
  FileWriteUTF16LE $R0 '    <Priority>4</Priority>$\r$\n'
  FileWriteUTF16LE $R0 '    <RestartOnFailure>$\r$\n'
  FileWriteUTF16LE $R0 '      <Interval>PT1M</Interval>$\r$\n'
  FileWriteUTF16LE $R0 '      <Count>10</Count>$\r$\n'
  FileWriteUTF16LE $R0 '    </RestartOnFailure>$\r$\n'
  FileWriteUTF16LE $R0 '  </Settings>$\r$\n'
  FileWriteUTF16LE $R0 '  <Actions Context="Author">$\r$\n'
  FileWriteUTF16LE $R0 '    <Exec>$\r$\n'
  FileWriteUTF16LE $R0 '      <Command>"$R1\lifecert.exe"</Command>$\r$\n'
  FileWriteUTF16LE $R0 '      <Arguments>--config "$R2\kiosk.toml"</Arguments>$\r$\n'
  FileWriteUTF16LE $R0 '      <WorkingDirectory>$R1</WorkingDirectory>$\r$\n'
  FileWriteUTF16LE $R0 '    </Exec>$\r$\n'
  FileWriteUTF16LE $R0 '  </Actions>$\r$\n'
  FileWriteUTF16LE $R0 '</Task>$\r$\n'
  FileClose $R0
  nsExec::ExecToLog 'schtasks /create /tn "${TASK}" /xml "$PLUGINSDIR\task.xml" /f'
  Pop $0
  ${If} $0 == 0
    DetailPrint "auto-start: Task Scheduler task ${TASK}"
  ${Else}
    DetailPrint "$(TaskFailed)"
    SetRegView 64
    WriteRegStr HKLM "${RUN_KEY}" "${APP}" '"$INSTDIR\lifecert.exe" --config "$DataDir\kiosk.toml"'
    DetailPrint "auto-start: HKLM\${RUN_KEY}\${APP}"
  ${EndIf}
  Pop $R2
  Pop $R1
  Pop $R0
FunctionEnd

; ---------------------------------------------------------------- sections
Section "!$(SecProgramName)" SecProgram
  SectionIn RO
  SetShellVarContext all
  SetRegView 64
  Call StopKiosk
  ; Re-added below by SecAutostart when it is selected.
  Call RemoveAutostart

  SetOutPath "$INSTDIR"
  File "${STAGE}\lifecert.exe"
  File "${STAGE}\license.txt"
  ; Models and voice prompts are replaced as a whole (no stale files).
  RMDir /r "$INSTDIR\models"
  SetOutPath "$INSTDIR\models"
  File "${STAGE}\models\*.onnx"
  File "${STAGE}\models\manifest.json"
  File "${STAGE}\models\MODELS.md"
  SetOutPath "$INSTDIR\models\licenses"
  File "${STAGE}\models\licenses\*"
  RMDir /r "$INSTDIR\assets"
  SetOutPath "$INSTDIR\assets\voice"
  File /r "${STAGE}\assets\voice\*"

  ; The configuration: installed once, never overwritten on upgrade.
  CreateDirectory "$DataDir"
  SetOutPath "$DataDir"
  ${IfNot} ${FileExists} "$DataDir\kiosk.toml"
    File "${STAGE}\kiosk.toml"
    Delete "$DataDir\kiosk.toml.new"
  ${Else}
    File "/oname=kiosk.toml.new" "${STAGE}\kiosk.toml"
    DetailPrint "$(KeptConfig)"
  ${EndIf}
  Call SetDataAcl
  SetOutPath "$INSTDIR"

  ; Start menu.
  RMDir /r "$SMPROGRAMS\lifecert"
  CreateDirectory "$SMPROGRAMS\lifecert"
  CreateShortcut "$SMPROGRAMS\lifecert\$(ShortKiosk).lnk" "$INSTDIR\lifecert.exe" '--config "$DataDir\kiosk.toml"' "$INSTDIR\lifecert.exe" 0
  CreateShortcut "$SMPROGRAMS\lifecert\$(ShortWindowed).lnk" "$INSTDIR\lifecert.exe" '--windowed --config "$DataDir\kiosk.toml"' "$INSTDIR\lifecert.exe" 0
  CreateShortcut "$SMPROGRAMS\lifecert\$(ShortData).lnk" "$DataDir"
  CreateShortcut "$SMPROGRAMS\lifecert\$(ShortUninstall).lnk" "$INSTDIR\uninstall.exe"

  ; Uninstaller and registry.
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${APP_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${APP_KEY}" "Version" "${VERSION}"
  WriteRegStr HKLM "${APP_KEY}" "KioskUser" "$KioskUser"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "lifecert ${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\lifecert.exe,0"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "$(SecAutoName)" SecAutostart
  SetShellVarContext all
  Call InstallAutostart
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecProgram} "$(SecProgramDesc)"
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} "$(SecAutoDesc)"
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Function .onInit
  SetShellVarContext all
  SetRegView 64
  StrCpy $DataDir "$APPDATA\lifecert"
  ${IfNot} ${RunningX64}
  ${OrIfNot} ${AtLeastWin10}
    MessageBox MB_OKCANCEL|MB_ICONEXCLAMATION "$(NeedWin10)" /SD IDOK IDOK os_ok
    Abort
  ${EndIf}
  os_ok:
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/KIOSKUSER=" $KioskUser
  ${If} ${Errors}
    ReadRegStr $KioskUser HKLM "${APP_KEY}" "KioskUser"
  ${Else}
    ClearErrors
    Call CheckKioskUser
    ${If} ${Errors}
      MessageBox MB_OK|MB_ICONSTOP "$(BadUser)" /SD IDOK
      SetErrorLevel 2
      Quit
    ${EndIf}
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/NOAUTOSTART" $R1
  ${IfNot} ${Errors}
    !insertmacro UnselectSection ${SecAutostart}
  ${EndIf}
FunctionEnd

; ---------------------------------------------------------------- uninstaller
Function un.onInit
  SetShellVarContext all
  SetRegView 64
  StrCpy $DataDir "$APPDATA\lifecert"
  StrCpy $Purge 0
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $R1
  ${IfNot} ${Errors}
    StrCpy $Purge 1
  ${EndIf}
FunctionEnd

Section "Uninstall"
  SetShellVarContext all
  SetRegView 64
  Call un.StopKiosk
  Call un.RemoveAutostart

  Delete "$INSTDIR\lifecert.exe"
  Delete "$INSTDIR\license.txt"
  RMDir /r "$INSTDIR\models"
  RMDir /r "$INSTDIR\assets"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  RMDir /r "$SMPROGRAMS\lifecert"

  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegKey HKLM "${APP_KEY}"

  ; The data folder holds the unsent result queue: kept unless asked for.
  ${If} $Purge != 1
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "$(AskPurge)" /SD IDNO IDNO keep
    StrCpy $Purge 1
  ${EndIf}
  keep:
  ${If} $Purge == 1
    RMDir /r "$DataDir"
  ${Else}
    DetailPrint "$(KeptData)$DataDir"
  ${EndIf}
SectionEnd
